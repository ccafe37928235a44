"""The transactional outbox: every message to a workflow, and every mail, outlives a failed send.

What a workflow must hear about a change (a return was created, so its workflow starts; an invoice was paid; a
schedule's quarters changed …) and every mail the API sends (a sign-in link, an invitation, a message notice) is
written to the `outbox` table in the transaction of the change itself (`Outbox.add`). After the commit the API sends it
at once and deletes the entry (`send`, or `commit_and_send` for both steps). If that send fails (Temporal or SMTP
unreachable, the process killed between commit and send) the entry stays, and OutboxRelayWorkflow delivers it a
little later (`deliver_pending`), so no workflow stays behind Postgres for good and no mail is lost.

Each kind of message has one handler, registered in `HANDLERS` by the module of the entity it is about. Every
handler is idempotent in effect (a start finds the running workflow, a repeated signal is ignored or re-applied,
a schedule re-reads its quarters), so an entry delivered twice (sent, then its delete lost) changes nothing; a
mail delivered twice arrives twice, under one Message-ID.

Payloads are sealed at rest (domain/outbox/sealing.py): a sign-in link or an invitation token waiting for SMTP is AES-256-GCM
ciphertext in the table (`FieldCipher`, the field-encryption keys), bound to its entry (id, kind, entity), so a
database dump or a backup shows which entries wait but not what they carry, and a sealed payload copied onto
another entry opens nothing. Only the sender (`Outbox.send`, the relay's `deliver`) opens it, at send time. An
entry written before migration 0015 holds its payload in clear and is delivered as it is.

The one exception to "after the commit": a change that is only safe once its workflow has heard of it (voiding
a sent invoice closes its payment link) signals before the commit, through the entity's client, and a failure
rolls the change back (orchestration/invoice.py `void`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pydantic import BaseModel
from sqlalchemy import ARRAY, any_, bindparam, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from domain.crypto import FieldCipher
from domain.outbox.models import OutboxEntry
from domain.outbox.sealing import open_payload, seal
from integrations.mail import Mailer
from orchestration import (
    audit_export, consent, document, efile, engagement, estimated_payment, form_8879, identity, invoice, mail, portal,
    queues, tax_return, webhook,
)
from orchestration.message import Delivery, OutboxMessage

log = logging.getLogger(__name__)

Handler = Callable[[Delivery, str, dict], Awaitable[None]]
# Every kind there is, and the one handler that delivers it.
HANDLERS: dict[str, Handler] = {
    **tax_return.HANDLERS, **estimated_payment.HANDLERS, **invoice.HANDLERS, **document.HANDLERS,
    **audit_export.HANDLERS, **mail.HANDLERS, **efile.HANDLERS, **identity.HANDLERS, **consent.HANDLERS,
    **engagement.HANDLERS, **form_8879.HANDLERS, **portal.HANDLERS, **webhook.HANDLERS,
}
# The API's own send gets this long before the relay takes an entry over.
RELAY_AFTER = timedelta(seconds=30)
RELAY_BATCH = 100
RELAY_WORKFLOW = "OutboxRelay"
RELAY_WORKFLOW_ID = "outbox-relay"

# Built once: the API writes and deletes an entry on most requests that change something, and the ORM's unit of
# work for it cost more API CPU than the statements themselves.
INSERT_ENTRY = insert(OutboxEntry).values(
    id=bindparam("entry_id"), entity_type=bindparam("entity_type"), entity_id=bindparam("entity_id"),
    kind=bindparam("kind"), sealed_payload=bindparam("sealed_payload"), attempts=0)
# The ids as one array parameter (`= ANY`), not an expanding IN: an IN list is re-rendered into the SQL on every
# execution, which was a fifth of a Stripe event's statement-execution CPU in the API (issue 19).
DELETE_ENTRIES = delete(OutboxEntry).where(
    OutboxEntry.id == any_(bindparam("entry_ids", type_=ARRAY(OutboxEntry.__table__.c.id.type))))


@dataclass(frozen=True)
class Pending:
    """An entry written in a transaction not yet committed: what `send` needs to deliver it after the commit."""

    entry_id: uuid.UUID
    message: OutboxMessage


def open_entry(cipher: FieldCipher, entry: OutboxEntry) -> OutboxMessage:
    """The message an entry holds, its payload opened."""
    return OutboxMessage(entry.kind, entry.entity_type, entry.entity_id, open_payload(cipher, entry))


async def _handle(temporal: Client, session: AsyncSession, mailer: Mailer, message: OutboxMessage) -> None:
    handler = HANDLERS.get(message.kind)
    if handler is None:
        raise ValueError(f"unknown outbox kind {message.kind!r}")
    await handler(Delivery(temporal, session, mailer), message.entity_id, message.payload)


class Outbox:
    """The sending side, one per process: how to reach Temporal (connected on first use, so the API starts
    while Temporal is down), Postgres and the mail server."""

    def __init__(self, temporal: Callable[[], Awaitable[Client]], sessionmaker: async_sessionmaker[AsyncSession],
                 mailer: Mailer, cipher: FieldCipher):
        self.temporal, self.sessionmaker, self.mailer, self.cipher = temporal, sessionmaker, mailer, cipher

    async def add(self, session: AsyncSession, message: OutboxMessage) -> Pending:
        """Write the message, sealed, in the caller's transaction; send it after the commit."""
        if message.kind not in HANDLERS:
            raise ValueError(f"unknown outbox kind {message.kind!r}")
        entry_id = uuid.uuid4()
        sealed = seal(self.cipher, entry_id, message.kind, message.entity_type, message.entity_id, message.payload)
        await (await session.connection()).execute(INSERT_ENTRY, {
            "entry_id": entry_id, "entity_type": message.entity_type, "entity_id": message.entity_id,
            "kind": message.kind, "sealed_payload": sealed})
        return Pending(entry_id, message)

    async def add_all(self, session: AsyncSession, messages: list[OutboxMessage]) -> list[Pending]:
        """`add` for many messages in one statement (psycopg pipelines the rows): the webhook fan-out writes one
        entry per delivery, thousands a minute."""
        if not messages:
            return []
        unknown = {m.kind for m in messages} - set(HANDLERS)
        if unknown:
            raise ValueError(f"unknown outbox kind(s) {sorted(unknown)!r}")
        pending = [Pending(uuid.uuid4(), message) for message in messages]
        await (await session.connection()).execute(INSERT_ENTRY, [
            {"entry_id": p.entry_id, "entity_type": p.message.entity_type, "entity_id": p.message.entity_id,
             "kind": p.message.kind, "sealed_payload": seal(self.cipher, p.entry_id, p.message.kind,
                                                            p.message.entity_type, p.message.entity_id,
                                                            p.message.payload)}
            for p in pending])
        return pending

    async def send(self, *pending: Pending) -> None:
        """Deliver entries whose transaction has committed, and delete each one delivered. A failed send never
        fails the caller, whose change is committed: the entry is the relay's then (it only takes entries older
        than RELAY_AFTER, so it does not race this send)."""
        if not pending:
            return
        delivered = []
        async with self.sessionmaker() as session:
            for item in pending:
                try:
                    await _handle(await self.temporal(), session, self.mailer, item.message)
                    delivered.append(item.entry_id)
                except Exception:  # noqa: BLE001 (Temporal, SMTP or Postgres unreachable: the relay delivers it)
                    log.warning("outbox entry %s (%s) left for the relay", item.entry_id, item.message.kind,
                                exc_info=True)
                    await session.rollback()  # a failed read must not spoil the next handler's
        if not delivered:
            return
        try:  # one statement for all of them, atomic on its own: without BEGIN and COMMIT, one round trip
            async with self.sessionmaker.kw["bind"].connect() as cleanup:
                cleanup = await cleanup.execution_options(isolation_level="AUTOCOMMIT")
                await cleanup.execute(DELETE_ENTRIES, {"entry_ids": delivered})
        except Exception:  # noqa: BLE001 (delivered, but Postgres out of reach: the relay sends them again, harmless)
            log.warning("outbox entries %s delivered but not deleted", delivered, exc_info=True)

    async def commit(self, session: AsyncSession, *messages: OutboxMessage) -> list[Pending]:
        """Commit the caller's change together with its messages; the caller sends them (`send`), for a mail
        after its response (the API's BackgroundTasks): nobody waits on SMTP, and the entry is durable."""
        pending = [await self.add(session, message) for message in messages]
        await session.commit()
        return pending

    async def commit_and_send(self, session: AsyncSession, *messages: OutboxMessage) -> None:
        """Commit the caller's change together with its messages, then send them before answering (a workflow's
        message: the caller's next request then finds the workflow told)."""
        await self.send(*await self.commit(session, *messages))


async def deliver(client: Client, sessionmaker: async_sessionmaker[AsyncSession], mailer: Mailer,
                  cipher: FieldCipher, entry_id: uuid.UUID) -> bool:
    """The relay's delivery of one entry: send it and delete it, or count the failure on it (it stays)."""
    async with sessionmaker() as session:
        entry = (await session.execute(
            select(OutboxEntry).where(OutboxEntry.id == entry_id).with_for_update(skip_locked=True)
        )).scalar_one_or_none()
        if entry is None:  # delivered already, or being delivered by someone else right now
            return True
        try:
            await _handle(client, session, mailer, open_entry(cipher, entry))
        except Exception as exc:  # noqa: BLE001 (whatever failed, the entry stays and is retried)
            log.warning("outbox entry %s (%s for %s %s) not delivered: %s", entry.id, entry.kind,
                        entry.entity_type, entry.entity_id, exc)
            entry.attempts += 1
            entry.last_error = f"{type(exc).__name__}: {exc}"[:500]
            await session.commit()
            return False
        await session.delete(entry)
        await session.commit()
        return True


async def deliver_pending(client: Client, sessionmaker: async_sessionmaker[AsyncSession], mailer: Mailer,
                          cipher: FieldCipher, older_than: timedelta = RELAY_AFTER, limit: int = RELAY_BATCH) -> int:
    """The relay's round: entries the API did not deliver, fewest failed attempts first (so one that keeps
    failing does not hold the others back). Returns how many did not fail (sent now, or gone meanwhile)."""
    cutoff = datetime.now(timezone.utc) - older_than
    async with sessionmaker() as session:
        ids = (await session.execute(
            select(OutboxEntry.id).where(OutboxEntry.created_at < cutoff)
            .order_by(OutboxEntry.attempts, OutboxEntry.created_at).limit(limit)
        )).scalars().all()
    return sum([await deliver(client, sessionmaker, mailer, cipher, entry_id) for entry_id in ids])


class OutboxRelayInput(BaseModel):
    interval_seconds: float = 30.0
    relay_after_seconds: float = RELAY_AFTER.total_seconds()
    rounds_per_run: int = 200


async def ensure_relay_running(client: Client, task_queue: str = queues.ADMIN,
                               data: OutboxRelayInput | None = None) -> None:
    """Start the relay unless it runs already (one per namespace, whichever worker starts it)."""
    await client.start_workflow(RELAY_WORKFLOW, data or OutboxRelayInput(), id=RELAY_WORKFLOW_ID,
                                task_queue=task_queue, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING)
