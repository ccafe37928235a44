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
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
        """Pages in order, two at a time: while a page's last documents download and its rows commit, the next
        page is listed and its downloads take the download slots as they free up (one set of slots for the whole
        pull). Pages commit in order, and the heartbeat names the page after the last one committed, so a resumed
        walk redoes at most the page that was in flight."""
        surface = data.unit.surface
        slots = _Slots(self.concurrency)
        newest: dict[int, datetime] = {}
        in_flight: deque[_ListedPage] = deque()

        async def settle(listed: _ListedPage) -> None:
            counts = await listed.step
            for item in listed.page.items:
                newest[listed.walk] = max(newest.get(listed.walk, item.updated_at), item.updated_at)
            for name in ("seen", "created", "updated", "bytes_downloaded"):
                setattr(result, name, getattr(result, name) + getattr(counts, name))
            resume_at = {"walk": listed.walk, "page": listed.page.next_page}
            if listed.page.next_page is None:  # the walk is complete: the next sync starts where it ended
                async with self.sessionmaker.begin() as session:
                    await advance_cursor(session, connection.id, account.portal_account_id,
                                         walks_of(surface)[listed.walk][0], newest.get(listed.walk))
                resume_at = {"walk": listed.walk + 1, "page": 1}
            activity.heartbeat({**resume_at, **result.model_dump(
                include={"seen", "created", "updated", "bytes_downloaded"})})
            # Progress on the sync's row after each page (what GET …/syncs/{id} and the CLI's bars show).
            await self._record(data, result.model_copy(update={"status": "running",
                                                               "requests": client.requests_made}))

        pages = self._listed_pages(client, connection, account, surface, position)
        try:
            async for listed in pages:
                previous = in_flight[-1].step if in_flight else None
                listed.step = asyncio.ensure_future(
                    self._page_step(client, connection, account, surface, listed, slots, previous, data.sync_id))
                in_flight.append(listed)
                while len(in_flight) > 1:
                    await settle(in_flight.popleft())
            while in_flight:
                await settle(in_flight.popleft())
        finally:  # a page failed or the pull was cancelled: the pages after it never commit
            await pages.aclose()
            for listed in in_flight:
                listed.step.cancel()
            await asyncio.gather(*(listed.step for listed in in_flight), return_exceptions=True)

    async def _listed_pages(self, client: PortalClient, connection, account: PortalAccount, surface: str,
                            position: dict) -> AsyncIterator[_ListedPage]:
        """Every page of every walk of the surface, from the heartbeat's position."""
        walks = walks_of(surface)
        for index in range(position["walk"], len(walks)):
            walk, folder = walks[index]
            async with self.sessionmaker() as session:
                since = await cursor(session, connection.id, account.portal_account_id, walk)
            start = position["page"] if index == position["walk"] else 1
            async for _, page in client.pages("threads" if surface == "messages" else surface,
                                              account.portal_account_id, folder=folder, updated_since=_iso(since),
                                              start_page=start, per_page=PER_PAGE):
                yield _ListedPage(index, since, page)

    async def _page_step(self, client: PortalClient, connection, account, surface: str, listed: _ListedPage,
                         slots: _Slots, previous: asyncio.Future | None, sync_id: uuid.UUID) -> Counts:
        """A page's documents downloaded and stored (alongside the page before), then, once the page before has
        committed, its rows. It never commits after a page that failed."""
        stored = await self._fetch_documents(client, connection, account, listed.page.items, slots) \
            if surface == "documents" else {}
        try:
            if previous is not None:
                await asyncio.wait({previous})  # not `await previous`: cancelling this page must not cancel that one
                if previous.cancelled() or previous.exception() is not None:
                    raise _EarlierPageFailed  # settled first, so the earlier page's own error is what surfaces
        except BaseException:
            await self._delete_objects(stored)
            raise
        if surface == "messages":
            return await self._thread_page(client, connection, account, listed.page.items, listed.since, sync_id)
        return await self._commit_page(connection, account, surface, listed.page.items, stored, sync_id)

    async def _thread_page(self, client: PortalClient, connection, account, threads: list, since,
                           sync_id: uuid.UUID) -> Counts:
        """A page of threads, then the messages of each (changed since the last walk) thread."""
        total = await self._commit_page(connection, account, "threads", threads, {}, sync_id)
        total.seen = total.created = total.updated = 0  # a thread is a container: the surface counts messages
        for thread in threads:
            async for _, page in client.pages("messages", account.portal_account_id, thread_id=thread.id,
                                              updated_since=_iso(since), per_page=PER_PAGE):
                total.add(await self._commit_page(connection, account, "messages", page.items, {}, sync_id,
                                                  parent_id=thread.id))
        return total

    async def _commit_page(self, connection, account, surface: str, items: list, stored: dict[str, StoredContent],
                           sync_id: uuid.UUID, parent_id: str | None = None) -> Counts:
        """A page's rows in one transaction; if they do not commit, neither do their objects. A cancelled pull
        (pause, delete) lets a transaction under way finish first: cut off at its COMMIT, it could not tell
        whether its rows landed, and deleting their objects then could leave documents without their bytes."""
        transaction = asyncio.ensure_future(self._apply_page(connection, account, surface,
                                                             _incoming(items, parent_id), stored, sync_id))
        try:
            counts = await asyncio.shield(transaction)
        except asyncio.CancelledError:
            await asyncio.wait({transaction})
            if transaction.exception() is not None:
                await self._delete_objects(stored)
            raise
        except BaseException:
            await self._delete_objects(stored)
            raise
        counts.bytes_downloaded = sum(c.size for c in stored.values())
        return counts

    async def _apply_page(self, connection, account, surface: str, incoming: list[Incoming],
                          stored: dict[str, StoredContent], sync_id: uuid.UUID) -> Counts:
        async with self.sessionmaker.begin() as session:
            ctx = ServiceContext.for_system(session, connection.firm_id, SOURCE)
            return await apply_page(ctx, connection, account, surface, incoming, stored, sync_id)

    async def _fetch_documents(self, client: PortalClient, connection, account, items: list,
                               slots: _Slots) -> dict[str, StoredContent]:
        """The bytes of every new or changed document of a page, in the pull's download slots. A known document
        is asked for with its ETag: an unchanged one answers 304 and costs no bytes. Failed or cancelled, it
        leaves no object behind."""
        incoming = _incoming(items)
        async with self.sessionmaker() as session:
            known = await known_items(session, connection.id, account.portal_account_id, "documents",
                                      [i.portal_id for i in incoming])
        stored: dict[str, StoredContent] = {}
        # Every write started, shielded: a cancelled download cannot stop a PUT already in its thread, so the
        # clean-up waits for them before it deletes what they wrote.
        writes: dict[str, asyncio.Task] = {}

        def write(key: str, function, *args) -> asyncio.Future:
            writes[key] = asyncio.ensure_future(asyncio.to_thread(function, key, *args))
            return asyncio.shield(writes[key])

        async def fetch(item: Incoming) -> None:
            row = known.get(item.portal_id)
            if row is not None and row.data == item.data:
                return
            etag = f'"{row.data["sha256"]}"' if row is not None else None
            document_id = row.document_id if row is not None else uuid.uuid4()
            content_type = item.data["content_type"]
            async with slots.held:
                with tempfile.SpooledTemporaryFile(max_size=SMALL_OBJECT) as sink:
                    async with slots.downloading:
                        answer = await client.download(account.portal_account_id, item.portal_id, sink, etag=etag)
                        if answer.not_modified:
                            return
                        if answer.sha256 != item.data["sha256"]:  # a truncated or altered body: read it again
                            raise ProviderUnavailable("client_portal", f"document {item.portal_id}: SHA-256 "
                                                                       "differs from the portal's")
                        key = content_key(connection.firm_id, account.client_id, document_id, answer.sha256)
                        sink.seek(0)
                        if answer.size > SMALL_OBJECT:  # on disk: streamed in parts, inside the slot
                            await write(key, self.storage.upload_stream, sink, content_type)
                            body = None
                        else:
                            body = sink.read()
                    if body is not None:  # one PUT: s3transfer's threads cost more CPU than a small body
                        await write(key, self.storage.put_bytes, body, content_type)
            stored[item.portal_id] = StoredContent(document_id, key, answer.sha256, answer.size)

        try:
            results = await asyncio.gather(*(fetch(i) for i in incoming), return_exceptions=True)
            failures = [r for r in results if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
        except BaseException:
            await asyncio.gather(*writes.values(), return_exceptions=True)
            await asyncio.gather(*(asyncio.to_thread(self.storage.delete, key) for key in writes),
                                 return_exceptions=True)
            raise
        return stored

    async def _delete_objects(self, stored: dict[str, StoredContent]) -> None:
        await asyncio.gather(*(asyncio.to_thread(self.storage.delete, c.s3_key) for c in stored.values()),
                             return_exceptions=True)  # the error that stopped the page is the one to report

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


class _Slots:
    """The download slots of one pull, shared by its pages. A download holds a slot only while its bytes arrive:
    a small document's PUT to the store runs after the slot is free, so the next download overlaps it; `held`
    bounds the documents in memory waiting for their PUT (2 × slots)."""

    def __init__(self, concurrency: int):
        self.downloading, self.held = asyncio.Semaphore(concurrency), asyncio.Semaphore(2 * concurrency)


@dataclass
class _ListedPage:
    walk: int  # index in walks_of(surface)
    since: datetime | None  # the walk's updated_since
    page: pm.Page
    step: asyncio.Future | None = None  # its documents, then its rows (PortalActivities._page_step)


class _EarlierPageFailed(Exception):
    """A page does not commit after one that failed; the earlier page's error is the one the pull reports."""


def _incoming(items: list, parent_id: str | None = None) -> list[Incoming]:
    return [Incoming(i.id, i.updated_at, i.model_dump(mode="json"), parent_id) for i in items]


async def _account(session, connection_id, portal_account_id: str) -> PortalAccount:
    return (await session.execute(select(PortalAccount).where(
        PortalAccount.connection_id == connection_id,
        PortalAccount.portal_account_id == portal_account_id))).scalar_one()
