"""The tax return outbox: messages for a return's workflows that outlive a failed send.

What a return's workflow must hear about from the API (the return was created, so its workflow starts; the return
changed; an analysis was requested; the client answered the last question), and what the workflow of the return's
estimated-payment schedule must hear (its quarters changed; the first such message starts it), is written to
`tax_return_outbox` in the transaction of the change itself. After the commit the API sends it at once and deletes
the entry. If that send fails (Temporal unreachable, the process killed between commit and send) the entry stays,
and TaxReturnOutboxRelayWorkflow delivers it a little later, so the workflow never stays behind Postgres for good.
Every message is idempotent in the workflow (a start finds the running workflow, a system event outside its
from-status is ignored, a change is re-applied, an analysis id is queued once, a schedule re-reads its quarters),
so one delivered twice (sent, then its delete lost) changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.tax_return import AnalyzeInput
from domain.tax_return.models import ReturnOutboxEntry, TaxReturn
from workflows import tax_return_client
from workflows.estimated_payment import ScheduleWorkflowInput, nudge_schedule
from workflows.tax_return_events import TaxReturnSystemEvent, send_system_event

log = logging.getLogger(__name__)

START = "start"  # no payload: the return was created; its workflow starts from the row
SYSTEM_EVENT = "system_event"
RETURN_CHANGED = "return_changed"  # no payload: the workflow is told the return's current row
ANALYZE = "analyze"
SCHEDULE_CHANGED = "schedule_changed"  # payload: the schedule workflow's input (it starts the workflow if needed)
# The API's own send gets this long before the relay takes an entry over.
RELAY_AFTER = timedelta(seconds=30)
RELAY_BATCH = 100


# Built once: the API writes and deletes an entry on every request that tells a workflow something, and the
# ORM's unit of work for it cost more API CPU than the statements themselves.
INSERT_ENTRY = insert(ReturnOutboxEntry).values(
    id=bindparam("entry_id"), return_id=bindparam("return_id"), kind=bindparam("kind"),
    payload=bindparam("payload", type_=ReturnOutboxEntry.payload.type), attempts=0)
DELETE_ENTRY = delete(ReturnOutboxEntry).where(ReturnOutboxEntry.id == bindparam("entry_id"))


def as_payload(message: BaseModel | None) -> dict:
    """A message as the entry's JSON payload (RETURN_CHANGED has none)."""
    return message.model_dump(mode="json") if message is not None else {}


async def enqueue(session: AsyncSession, return_id: uuid.UUID, kind: str, payload: dict) -> uuid.UUID:
    """Add the message to the caller's transaction; send it after the commit. Returns the entry's id."""
    entry_id = uuid.uuid4()
    await (await session.connection()).execute(INSERT_ENTRY, {
        "entry_id": entry_id, "return_id": return_id, "kind": kind, "payload": payload})
    return entry_id


async def _send(client: Client, tax_return: TaxReturn, kind: str, payload: dict) -> None:
    if kind == START:
        await tax_return_client.start(client, tax_return)
    elif kind == SYSTEM_EVENT:
        await send_system_event(client, tax_return.id, TaxReturnSystemEvent.model_validate(payload))
    elif kind == RETURN_CHANGED:
        await tax_return_client.report_change(client, tax_return)
    elif kind == ANALYZE:
        await tax_return_client.request_analysis(client, tax_return, AnalyzeInput.model_validate(payload))
    elif kind == SCHEDULE_CHANGED:
        await nudge_schedule(client, ScheduleWorkflowInput.model_validate(payload))
    else:
        raise ValueError(f"unknown outbox entry kind {kind!r}")


async def deliver(client: Client, sessionmaker: async_sessionmaker[AsyncSession], entry_id: uuid.UUID) -> bool:
    """The relay's delivery of one entry: send it and delete it, or count the failure on it (it stays)."""
    async with sessionmaker() as session:
        row = (await session.execute(
            select(ReturnOutboxEntry, TaxReturn).join(TaxReturn, TaxReturn.id == ReturnOutboxEntry.return_id)
            .where(ReturnOutboxEntry.id == entry_id).with_for_update(of=ReturnOutboxEntry, skip_locked=True)
        )).first()
        if row is None:  # delivered already, or being delivered by someone else right now
            return True
        entry, tax_return = row
        try:
            await _send(client, tax_return, entry.kind, entry.payload)
        except Exception as exc:  # noqa: BLE001 (whatever failed, the entry stays and is retried)
            log.warning("outbox entry %s (%s for return %s) not delivered: %s", entry.id, entry.kind,
                        entry.return_id, exc)
            entry.attempts += 1
            entry.last_error = f"{type(exc).__name__}: {exc}"[:500]
            await session.commit()
            return False
        await session.delete(entry)
        await session.commit()
        return True


async def commit_and_send(session: AsyncSession, client_factory, sessionmaker: async_sessionmaker[AsyncSession],
                          tax_return: TaxReturn, kind: str, payload: BaseModel | None = None) -> None:
    """What the API does: commit the request's change together with its message, then send the message and
    delete the entry. A failed send never fails the request, whose change is committed: the entry is the
    relay's then (it only takes entries older than RELAY_AFTER, so it does not race this send)."""
    data = as_payload(payload)
    entry_id = await enqueue(session, tax_return.id, kind, data)
    await session.commit()
    await send_committed(client_factory, sessionmaker, entry_id, tax_return, kind, data)


async def send_committed(client_factory, sessionmaker: async_sessionmaker[AsyncSession], entry_id: uuid.UUID,
                         tax_return: TaxReturn, kind: str, payload: dict) -> None:
    """Send an entry whose transaction has committed, and delete it; on failure it stays for the relay."""
    try:
        await _send(await client_factory(), tax_return, kind, payload)
        async with sessionmaker.begin() as cleanup:
            await (await cleanup.connection()).execute(DELETE_ENTRY, {"entry_id": entry_id})
    except Exception:  # noqa: BLE001 (Temporal or Postgres unreachable: the relay delivers it later)
        log.warning("outbox entry %s left for the relay", entry_id, exc_info=True)


async def deliver_pending(client: Client, sessionmaker: async_sessionmaker[AsyncSession],
                          older_than: timedelta = RELAY_AFTER, limit: int = RELAY_BATCH) -> int:
    """The relay's round: entries the API did not deliver, fewest failed attempts first (so one that keeps
    failing does not hold the others back). Returns how many did not fail (sent now, or gone meanwhile)."""
    cutoff = datetime.now(timezone.utc) - older_than
    async with sessionmaker() as session:
        ids = (await session.execute(
            select(ReturnOutboxEntry.id).where(ReturnOutboxEntry.created_at < cutoff)
            .order_by(ReturnOutboxEntry.attempts, ReturnOutboxEntry.created_at).limit(limit)
        )).scalars().all()
    return sum([await deliver(client, sessionmaker, entry_id) for entry_id in ids])
