"""Portal syncs (PortalSyncWorkflow, docs/portal/): the contract, the Temporal Schedule of each connection, and
the outbox messages that keep Temporal in step with the connection's row.

- `portal_connection.changed`: the schedule follows the row — active: created or updated (cron, overlap skip)
  and unpaused; paused or deleted: paused or deleted, and every sync in flight cancelled. Idempotent in effect:
  delivering it again re-applies the row's current state.
- `portal_sync.start`: a manual sync's workflow (`portal-sync:<connection>:<sync>`, REJECT_DUPLICATE).
The schedule's own runs get ids `portal-sync:<connection>-<time>` (Temporal appends the time).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select
from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleAlreadyRunningError, ScheduleOverlapPolicy,
    SchedulePolicy, ScheduleSpec, ScheduleState, ScheduleUpdate,
)
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from domain.portal.models import PortalConnection, PortalSync
from orchestration import queues
from orchestration.message import Delivery, OutboxMessage

WORKFLOW = "PortalSync"
ENTITY_TYPE = "portal_connection"
CHANGED = "portal_connection.changed"
START = "portal_sync.start"


class PortalSyncInput(BaseModel):
    connection_id: uuid.UUID
    firm_id: uuid.UUID
    sync_id: uuid.UUID | None = None  # None: a scheduled run, which makes its own sync row
    trigger: str = "schedule"


class SyncUnit(BaseModel):
    """One pull: a surface of one linked account."""

    surface: str
    portal_account_id: str
    client_id: uuid.UUID


class PullResult(BaseModel):
    surface: str
    portal_account_id: str
    status: str  # ok | failed | stopped | skipped
    seen: int = 0
    created: int = 0
    updated: int = 0
    bytes_downloaded: int = 0
    requests: int = 0
    error: str | None = None


class BeginResult(BaseModel):
    sync_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    skipped: str | None = None  # the run made no sync: connection_paused, connection_deleted, sync_running
    stopped: str | None = None  # the sync stops before its pulls: consent_revoked, sign_in_refused:…
    units: list[SyncUnit] = []
    results: list[PullResult] = []  # accounts never read (region_mismatch)


class PullInput(BaseModel):
    sync_id: uuid.UUID
    connection_id: uuid.UUID
    firm_id: uuid.UUID
    unit: SyncUnit


class FinishInput(BaseModel):
    sync_id: uuid.UUID
    connection_id: uuid.UUID
    results: list[PullResult]
    stopped: str | None = None
    cancelled: bool = False
    error: str | None = None


class FinishResult(BaseModel):
    outcome: str  # succeeded | failed | cancelled


def schedule_id(connection_id: uuid.UUID) -> str:
    return f"portal-sync-schedule:{connection_id}"


def workflow_id(connection_id: uuid.UUID, sync_id: uuid.UUID | None = None) -> str:
    return f"portal-sync:{connection_id}" + (f":{sync_id}" if sync_id else "")


def changed(connection_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(CHANGED, ENTITY_TYPE, str(connection_id))


def sync_requested(connection_id: uuid.UUID, sync_id: uuid.UUID) -> OutboxMessage:
    return OutboxMessage(START, ENTITY_TYPE, str(connection_id), {"sync_id": str(sync_id)})


def _schedule(connection: PortalConnection) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            WORKFLOW, PortalSyncInput(connection_id=connection.id, firm_id=connection.firm_id),
            id=workflow_id(connection.id), task_queue=queues.PORTAL),
        spec=ScheduleSpec(cron_expressions=[connection.schedule]),
        # A run still going when the next is due: the next is skipped, never stacked.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(paused=connection.status == "paused", note=f"portal connection {connection.id}"))


async def reconcile(temporal: Client, connection: PortalConnection, running: list[PortalSync]) -> None:
    """Make the schedule (and the syncs in flight) what the row says."""
    handle = temporal.get_schedule_handle(schedule_id(connection.id))
    stopping = connection.deleted_at is not None or connection.status == "paused"
    if connection.deleted_at is not None:
        await _ignore_missing(handle.delete())
    elif connection.status == "paused":
        await _ignore_missing(handle.pause(note="connection paused"))
    else:
        wanted = _schedule(connection)
        try:
            await temporal.create_schedule(schedule_id(connection.id), wanted)
        except ScheduleAlreadyRunningError:
            await handle.update(lambda _: ScheduleUpdate(schedule=wanted))
    if stopping:
        for sync in running:
            if sync.workflow_id:
                await _ignore_missing(temporal.get_workflow_handle(sync.workflow_id).cancel())


async def next_run(temporal: Client, connection_id: uuid.UUID) -> datetime | None:
    try:
        description = await temporal.get_schedule_handle(schedule_id(connection_id)).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    if description.schedule.state.paused:
        return None
    upcoming = description.info.next_action_times
    return upcoming[0] if upcoming else None


async def workflow_close_status(temporal: Client, sync: PortalSync) -> str | None:
    """How the workflow of a sync its row still calls `running` ended — TERMINATED, TIMED_OUT, … — or None while
    it runs (or has not started yet: the outbox starts it just after the request that made the sync commits)."""
    if not sync.workflow_id:
        return None
    try:
        description = await temporal.get_workflow_handle(sync.workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise
    status = description.status
    return None if status is None or status == WorkflowExecutionStatus.RUNNING else status.name


async def _ignore_missing(call) -> None:
    try:
        await call
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise


async def _deliver_changed(delivery: Delivery, entity_id: str, payload: dict) -> None:
    session = delivery.session
    connection = await session.get(PortalConnection, uuid.UUID(entity_id))
    if connection is None:
        return
    running = list((await session.execute(select(PortalSync).where(
        PortalSync.connection_id == connection.id, PortalSync.status == "running"))).scalars())
    await reconcile(delivery.temporal, connection, running)


async def _deliver_start(delivery: Delivery, entity_id: str, payload: dict) -> None:
    connection_id, sync_id = uuid.UUID(entity_id), uuid.UUID(payload["sync_id"])
    connection = await delivery.session.get(PortalConnection, connection_id)
    if connection is None:
        return
    try:
        await delivery.temporal.start_workflow(
            WORKFLOW, PortalSyncInput(connection_id=connection_id, firm_id=connection.firm_id, sync_id=sync_id,
                                      trigger=payload.get("trigger", "manual")),
            id=workflow_id(connection_id, sync_id), task_queue=queues.PORTAL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE)
    except WorkflowAlreadyStartedError:
        pass  # a repeat: this sync runs, or ran, once


HANDLERS = {CHANGED: _deliver_changed, START: _deliver_start}
