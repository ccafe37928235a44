"""The one writer of a portal sync's status: every end of a sync goes through `close_sync`, which checks the
transition against the lifecycle (domain/portal/lifecycle.py), records it once in `lifecycle_history`, and turns
the connection `failing` or `active` with the outcome."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from domain.context import ServiceContext
from domain.event.record import record_event
from domain.lifecycle import history as lifecycle_history
from domain.portal.lifecycle import SYNC_LIFECYCLE, SyncStatus
from domain.portal.models import PortalConnection, PortalSync
from domain.roles import Role

# Why a sync's workflow closed without finishing it, by Temporal's close status (the error `abandon` records).
ABANDONED = {"TERMINATED": "workflow_terminated", "TIMED_OUT": "workflow_timed_out", "FAILED": "workflow_failed",
             "CANCELED": "workflow_cancelled", "COMPLETED": "workflow_completed",
             "CONTINUED_AS_NEW": "workflow_continued_as_new"}


def _transition_id(sync_id: uuid.UUID) -> uuid.UUID:
    # A sync leaves `running` once: one id per sync makes a retried close (a worker killed after its commit, a
    # read reconciling while the workflow's last step commits) record the transition once.
    return uuid.uuid5(sync_id, "portal_sync.close")


async def close_sync(ctx: ServiceContext, sync_id: uuid.UUID, action: str, error: str | None = None,
                     note: str | None = None) -> tuple[PortalSync, bool]:
    """End a running sync with `action` (succeed, fail, cancel, abandon): (the sync, whether this call ended it).
    A sync already ended is returned as it is: the close that came first stands."""
    sync = await ctx.session.get(PortalSync, sync_id, with_for_update=True)
    if sync.status != SyncStatus.RUNNING:
        return sync, False
    transition = SYNC_LIFECYCLE.check(action, sync.status, Role.SYSTEM)
    now = datetime.now(timezone.utc)
    await ctx.session.execute(lifecycle_history.insert_once(
        SYNC_LIFECYCLE, id=_transition_id(sync.id), firm_id=sync.firm_id, entity_id=sync.id,
        from_status=sync.status, to_status=transition.target.value, action=action, actor_id=None,
        actor_role=Role.SYSTEM.value, source=ctx.source or "portal_sync", at=now, note=note or error))
    sync.status, sync.error, sync.finished_at = transition.target.value, (error or None) and error[:500], now
    connection = await ctx.session.get(PortalConnection, sync.connection_id)
    if connection is not None and connection.deleted_at is None and connection.status != "paused":
        connection.status = "failing" if sync.status == SyncStatus.FAILED else "active"
    client_id = connection.client_id if connection else None
    await ctx.audit("portal_sync.finish", "portal_connection", sync.connection_id, client_id=client_id,
                    details={"sync_id": str(sync.id), "outcome": sync.status, "error": sync.error,
                             "action": action})
    record_event(ctx, "portal.sync_finished", "portal_sync", sync.id, client_id, {"status": sync.status})
    return sync, True


async def abandon_if_closed(ctx: ServiceContext, sync: PortalSync, close_status: str | None) -> PortalSync:
    """A sync still `running` whose workflow Temporal reports closed (`close_status`, e.g. TERMINATED) will never
    be finished by it: it fails, naming how the workflow closed. None (still running, or not started yet):
    unchanged."""
    if sync.status != SyncStatus.RUNNING or close_status is None or close_status == "RUNNING":
        return sync
    reason = ABANDONED.get(close_status, f"workflow_{close_status.lower()}")
    closed, _ = await close_sync(ctx, sync.id, "abandon", error=f"{reason}: the sync's workflow closed "
                                 f"({close_status}) before it finished; what it committed stays, the next sync "
                                 "resumes from the cursors")
    return closed
