"""Activities of a portal sync (workflows/portal.py): begin (sign in, map the linked accounts, decide the pulls),
one pull per (surface, linked account), finish (the sync's outcome and the connection's status).

A pull walks its lists page by page from where its last complete walk stopped (`updated_since`), writes each
page in one transaction (documents: bytes first, SHA-256 checked, then the rows), and heartbeats its position,
so a worker killed mid-walk resumes at the page it was on. Before every request the gate and the connection's
status are checked (domain/portal/session.py): a revoked consent or a pause stops it before its next request.
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.disclosure import gate
from domain.portal.accounts import map_accounts
from domain.portal.connection import running_sync
from domain.portal.mirror import (
    Counts, Incoming, StoredContent, advance_cursor, apply_page, content_key, cursor, known_items, sync_counts,
)
from domain.portal.lifecycle import FINISH_ACTIONS, SyncStatus
from domain.portal.models import PortalAccount, PortalConnection, PortalSync
from domain.portal.session import SOURCE, ConnectionSession, SyncStopped, disclosure
from domain.portal.syncs import abandon_if_closed, close_sync
from integrations import portal_models as pm
from integrations.portal import PortalClient, PortalDrift
from integrations.providers import ClientPortal, ObjectStorage, ProviderRejected, ProviderUnavailable
from orchestration.portal import (
    BeginResult, FinishInput, FinishResult, PortalSyncInput, PullInput, PullResult, SyncUnit, workflow_close_status,
)

PER_PAGE = 100
SMALL_OBJECT = 8 << 20  # a document this size or smaller is in memory already (the spooled file) and goes in one PUT
# A pull stopped for these was stopped by staff (pause, delete): the sync is cancelled, not failed.
HALTED_BY_STAFF = ("connection_paused", "connection_deleted")


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None


def walks_of(surface: str) -> list[tuple[str, str | None]]:
    """The lists a surface is read from, as (walk name, folder): documents have three areas; messages are read
    thread by thread, the threads list first."""
    if surface == "documents":
        return [(f"documents:{folder}", folder) for folder in pm.DOCUMENT_FOLDERS]
    if surface == "messages":
        return [("threads", None)]
    return [(surface, None)]


class PortalActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cipher: FieldCipher, portal: ClientPortal,
                 storage: ObjectStorage, data_region: str, download_concurrency: int = 8):
        self.sessionmaker, self.cipher, self.portal, self.storage = sessionmaker, cipher, portal, storage
        self.data_region, self.concurrency = data_region, download_concurrency

    def _session(self, connection_id, information="portal.accounts", account_client_id=None) -> ConnectionSession:
        return ConnectionSession(self.sessionmaker, self.cipher, self.portal, connection_id, information,
                                 account_client_id)

    # ---- begin ------------------------------------------------------------------------------------------------

    @activity.defn(name="portal.begin_sync")
    async def begin_sync(self, data: PortalSyncInput) -> BeginResult:
        async with self.sessionmaker.begin() as session:
            connection = await session.get(PortalConnection, data.connection_id)
            if connection is None or connection.deleted_at is not None:
                return BeginResult(skipped="connection_deleted")
            if connection.status == "paused":
                if data.sync_id is not None:
                    await close_sync(ServiceContext.for_system(session, connection.firm_id, SOURCE), data.sync_id,
                                     "cancel", "connection_paused")
                return BeginResult(skipped="connection_paused")
            sync = await session.get(PortalSync, data.sync_id) if data.sync_id else None
            if sync is None:
                running = await running_sync(session, connection.id)
                if running is not None:  # unless its workflow was terminated: then it fails, and this run goes on
                    ctx = ServiceContext.for_system(session, connection.firm_id, SOURCE)
                    running = await abandon_if_closed(ctx, running, await workflow_close_status(activity.client(),
                                                                                                running))
                if running is not None and running.status == "running":
                    return BeginResult(skipped="sync_running")  # a manual sync runs: the scheduled run skips
                sync = PortalSync(id=uuid.uuid4(), firm_id=connection.firm_id, connection_id=connection.id,
                                  trigger=data.trigger, status="running", results=[], requests_made=0)
                session.add(sync)
            sync.workflow_id = activity.info().workflow_id
            connection.last_sync_id = sync.id
            result = BeginResult(sync_id=sync.id, client_id=connection.client_id)
            surfaces = list(connection.surfaces)
        async with self.sessionmaker.begin() as session:
            ctx = ServiceContext.for_system(session, connection.firm_id, SOURCE)
            decision = await gate.authorize(ctx, disclosure(connection, "portal.accounts"))
        if not decision.allowed:
            result.stopped = decision.refusal_reason
            return result
        try:
            async with await self._session(connection.id).open(connection) as client:
                accounts = (await client.accounts()).items
        except SyncStopped as stop:
            result.stopped = stop.reason
            return result
        except ProviderRejected as refused:
            result.stopped = f"portal_refused: {refused.message}"
            return result
        async with self.sessionmaker.begin() as session:
            connection = await session.get(PortalConnection, data.connection_id)
            rows = await map_accounts(ServiceContext.for_system(session, connection.firm_id, SOURCE), connection,
                                      accounts, self.cipher)
        for row in rows:
            if row.region != self.data_region:  # never read: the firm's data stays in its region
                result.results += [PullResult(surface=s, portal_account_id=row.portal_account_id, status="skipped",
                                              error=f"region_mismatch: account in {row.region}") for s in surfaces]
                continue
            result.units += [SyncUnit(surface=s, portal_account_id=row.portal_account_id, client_id=row.client_id)
                             for s in surfaces]
        return result

    # ---- one pull -----------------------------------------------------------------------------------------------

    @activity.defn(name="portal.pull")
    async def pull(self, data: PullInput) -> PullResult:
        unit = data.unit
        result = PullResult(surface=unit.surface, portal_account_id=unit.portal_account_id, status="ok")
        details = activity.info().heartbeat_details
        position = dict(details[0]) if details else {"walk": 0, "page": 1, "thread": None}
        if details:
            for name in ("seen", "created", "updated", "bytes_downloaded"):
                setattr(result, name, position.get(name, 0))
        async with self.sessionmaker() as session:
            connection = await session.get(PortalConnection, data.connection_id)
            account = await _account(session, data.connection_id, unit.portal_account_id)
        if unit.surface not in connection.surfaces:  # never read a surface the connection did not enable
            result.status, result.error = "skipped", "surface_not_enabled"
            return await self._record(data, result)
        information = f"portal.{unit.surface}"
        async with self.sessionmaker.begin() as session:
            decision = await gate.authorize(ServiceContext.for_system(session, connection.firm_id, SOURCE),
                                            disclosure(connection, information, account.client_id))
        if not decision.allowed:
            result.status, result.error = "stopped", decision.refusal_reason
            return await self._record(data, result)
        client = await self._session(connection.id, information, account.client_id).open(connection)
        try:
            async with client:
                await self._walk(data, client, connection, account, position, result)
        except SyncStopped as stop:
            result.status, result.error = "stopped", stop.reason
        except PortalDrift as drift:
            result.status, result.error = "failed", str(drift)
        except ProviderRejected as refused:
            result.status, result.error = "failed", refused.message
        finally:
            result.requests += client.requests_made
        async with self.sessionmaker() as session:
            result.created, result.updated = await sync_counts(session, data.sync_id, connection.id,
                                                               account.portal_account_id, unit.surface)
        return await self._record(data, result)

    async def _walk(self, data: PullInput, client: PortalClient, connection, account: PortalAccount, position: dict,
                    result: PullResult) -> None:
        """Page by page, one page behind: a page's documents download while the page before it commits, and the
        heartbeat names the page after the last one committed (so a resumed walk redoes at most one page)."""
        surface = data.unit.surface
        walks = walks_of(surface)
        for index in range(position["walk"], len(walks)):
            walk, folder = walks[index]
            async with self.sessionmaker() as session:
                since = await cursor(session, connection.id, account.portal_account_id, walk)
            start = position["page"] if index == position["walk"] else 1
            newest = None
            pending: tuple[asyncio.Task, int, object] | None = None

            async def settle() -> None:
                nonlocal newest
                task, page_number, page = pending
                counts = await task
                for item in page.items:
                    newest = max(newest, item.updated_at) if newest else item.updated_at
                for name in ("seen", "created", "updated", "bytes_downloaded"):
                    setattr(result, name, getattr(result, name) + getattr(counts, name))
                activity.heartbeat({"walk": index, "page": page.next_page or page_number + 1, **result.model_dump(
                    include={"seen", "created", "updated", "bytes_downloaded"})})
                # Progress on the sync's row after each page (what GET …/syncs/{id} and the CLI's bars show).
                await self._record(data, result.model_copy(update={"status": "running",
                                                                   "requests": client.requests_made}))

            try:
                async for page_number, page in client.pages("threads" if surface == "messages" else surface,
                                                             account.portal_account_id, folder=folder,
                                                             updated_since=_iso(since), start_page=start,
                                                             per_page=PER_PAGE):
                    if surface == "messages":
                        step = self._thread_page(client, connection, account, page.items, since, data.sync_id)
                    else:
                        stored = await self._fetch_documents(client, connection, account, page.items) \
                            if surface == "documents" else {}
                        step = self._commit_page(connection, account, surface, page.items, stored, data.sync_id)
                    if pending is not None:
                        try:
                            await settle()
                        except BaseException:
                            step.close()  # this page's step never starts: the walk stops at the page that failed
                            raise
                    pending = (asyncio.ensure_future(step), page_number, page)
                if pending is not None:
                    await settle()
                    pending = None
            finally:
                if pending is not None and not pending[0].done():
                    pending[0].cancel()
                    await asyncio.gather(pending[0], return_exceptions=True)
            async with self.sessionmaker.begin() as session:
                await advance_cursor(session, connection.id, account.portal_account_id, walk, newest)
            position["page"] = 1

    async def _thread_page(self, client: PortalClient, connection, account, threads: list, since,
                           sync_id: uuid.UUID) -> Counts:
        """A page of threads, then the messages of each (changed since the last walk) thread."""
        total = await self._store_page(client, connection, account, "threads", threads, sync_id)
        total.seen = total.created = total.updated = 0  # a thread is a container: the surface counts messages
        for thread in threads:
            async for _, page in client.pages("messages", account.portal_account_id, thread_id=thread.id,
                                              updated_since=_iso(since), per_page=PER_PAGE):
                total.add(await self._store_page(client, connection, account, "messages", page.items, sync_id,
                                                 parent_id=thread.id))
        return total

    async def _store_page(self, client: PortalClient, connection, account, surface: str, items: list,
                          sync_id: uuid.UUID, parent_id: str | None = None) -> Counts:
        stored = await self._fetch_documents(client, connection, account, items) if surface == "documents" else {}
        return await self._commit_page(connection, account, surface, items, stored, sync_id, parent_id)

    async def _commit_page(self, connection, account, surface: str, items: list, stored: dict[str, StoredContent],
                           sync_id: uuid.UUID, parent_id: str | None = None) -> Counts:
        incoming = _incoming(items, parent_id)
        try:
            async with self.sessionmaker.begin() as session:
                ctx = ServiceContext.for_system(session, connection.firm_id, SOURCE)
                counts = await apply_page(ctx, connection, account, surface, incoming, stored, sync_id)
        except BaseException:
            for content in stored.values():  # the rows did not commit: neither do their objects
                await asyncio.to_thread(self.storage.delete, content.s3_key)
            raise
        counts.bytes_downloaded = sum(c.size for c in stored.values())
        return counts

    async def _fetch_documents(self, client: PortalClient, connection, account,
                               items: list) -> dict[str, StoredContent]:
        """The bytes of every new or changed document of a page, `concurrency` at a time. A known document is
        asked for with its ETag: an unchanged one answers 304 and costs no bytes."""
        incoming = _incoming(items)
        async with self.sessionmaker() as session:
            known = await known_items(session, connection.id, account.portal_account_id, "documents",
                                      [i.portal_id for i in incoming])
        # Downloads hold a slot only while bytes arrive: a small document's PUT to the store runs after its slot
        # is free, so the next download overlaps it. `held` bounds what waits for its PUT in memory (2 × slots).
        downloading, held = asyncio.Semaphore(self.concurrency), asyncio.Semaphore(2 * self.concurrency)
        stored: dict[str, StoredContent] = {}

        async def fetch(item: Incoming) -> None:
            row = known.get(item.portal_id)
            if row is not None and row.data == item.data:
                return
            etag = f'"{row.data["sha256"]}"' if row is not None else None
            document_id = row.document_id if row is not None else uuid.uuid4()
            content_type = item.data["content_type"]
            async with held:
                with tempfile.SpooledTemporaryFile(max_size=SMALL_OBJECT) as sink:
                    async with downloading:
                        answer = await client.download(account.portal_account_id, item.portal_id, sink, etag=etag)
                        if answer.not_modified:
                            return
                        if answer.sha256 != item.data["sha256"]:  # a truncated or altered body: read it again
                            raise ProviderUnavailable("client_portal", f"document {item.portal_id}: SHA-256 "
                                                                       "differs from the portal's")
                        key = content_key(connection.firm_id, account.client_id, document_id, answer.sha256)
                        sink.seek(0)
                        if answer.size > SMALL_OBJECT:  # on disk: streamed in parts, inside the slot
                            await asyncio.to_thread(self.storage.upload_stream, key, sink, content_type)
                            body = None
                        else:
                            body = sink.read()
                    if body is not None:  # one PUT: s3transfer's threads cost more CPU than a small body
                        await asyncio.to_thread(self.storage.put_bytes, key, body, content_type)
            stored[item.portal_id] = StoredContent(document_id, key, answer.sha256, answer.size)

        results = await asyncio.gather(*(fetch(i) for i in incoming), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            for content in stored.values():
                await asyncio.to_thread(self.storage.delete, content.s3_key)
            raise failures[0]
        return stored

    async def _record(self, data: PullInput, result: PullResult) -> PullResult:
        async with self.sessionmaker.begin() as session:
            sync = await session.get(PortalSync, data.sync_id, with_for_update=True)
            entries = [e for e in sync.results if (e["surface"], e["portal_account_id"]) !=
                       (result.surface, result.portal_account_id)]
            sync.results = [*entries, result.model_dump()]
            sync.requests_made = sum(e.get("requests", 0) for e in sync.results)
        return result

    # ---- finish -------------------------------------------------------------------------------------------------

    @activity.defn(name="portal.finish_sync")
    async def finish_sync(self, data: FinishInput) -> FinishResult:
        failed = [r for r in data.results if r.status in ("failed", "stopped")
                  or (r.status == "skipped" and r.error != "surface_not_enabled")]
        halted = any(r.status == "stopped" and r.error in HALTED_BY_STAFF for r in data.results)
        if data.cancelled or halted:
            outcome = "cancelled"
        elif data.stopped or data.error or failed:
            outcome = "failed"
        else:
            outcome = "succeeded"
        error = data.stopped or data.error or (failed[0].error if failed else None)
        async with self.sessionmaker.begin() as session:
            sync = await session.get(PortalSync, data.sync_id, with_for_update=True)
            sync.results = [r.model_dump() for r in data.results]
            sync.requests_made = sum(r.requests for r in data.results)
            ctx = ServiceContext.for_system(session, sync.firm_id, SOURCE)
            sync, _ = await close_sync(ctx, data.sync_id, FINISH_ACTIONS[SyncStatus(outcome)], error)
        return FinishResult(outcome=sync.status)


def _incoming(items: list, parent_id: str | None = None) -> list[Incoming]:
    return [Incoming(i.id, i.updated_at, i.model_dump(mode="json"), parent_id) for i in items]


async def _account(session, connection_id, portal_account_id: str) -> PortalAccount:
    return (await session.execute(select(PortalAccount).where(
        PortalAccount.connection_id == connection_id,
        PortalAccount.portal_account_id == portal_account_id))).scalar_one()
