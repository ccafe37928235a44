"""The drift check: sign in, read one page of every enabled surface of every linked account, hold each answer
to the protocol's models, store nothing. Each read goes through the gate like a sync's (it is a pull)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.context import ServiceContext
from domain.disclosure import gate
from domain.portal.models import PortalConnection
from domain.portal.session import ConnectionSession, SyncStopped, disclosure
from integrations import portal_models as pm
from integrations.portal import PortalDrift
from integrations.providers import ProviderRejected


@dataclass
class SurfaceCheck:
    surface: str
    portal_account_id: str
    status: str  # ok | drift | refused
    field: str | None = None
    detail: str | None = None


async def check_connection(opener: ConnectionSession, connection: PortalConnection) -> list[SurfaceCheck]:
    results: list[SurfaceCheck] = []
    async with opener.sessionmaker.begin() as session:
        decision = await gate.authorize(ServiceContext.for_system(session, connection.firm_id, "portal_check"),
                                        disclosure(connection, "portal.check"))
    if not decision.allowed:
        return [SurfaceCheck("accounts", "", "refused", detail=decision.refusal_reason)]
    opener.require_active, opener.information = False, "portal.check"
    try:
        async with await opener.open(connection) as client:
            try:
                accounts = (await client.accounts()).items
            except PortalDrift as drift:
                return [SurfaceCheck("accounts", "", "drift", drift.field, drift.problem)]
            for account in accounts:
                for surface in connection.surfaces:
                    try:
                        await _one_page(client, surface, account.id)
                        results.append(SurfaceCheck(surface, account.id, "ok"))
                    except PortalDrift as drift:
                        results.append(SurfaceCheck(surface, account.id, "drift", drift.field, drift.problem))
    except SyncStopped as stop:
        results.append(SurfaceCheck("accounts", "", "refused", detail=stop.reason))
    except ProviderRejected as refused:
        results.append(SurfaceCheck("accounts", "", "refused", detail=refused.message))
    return results


async def _one_page(client, surface: str, account_id: str) -> None:
    if surface == "documents":
        for folder in pm.DOCUMENT_FOLDERS:
            async for _ in _first(client.pages("documents", account_id, folder=folder, per_page=10)):
                pass
        return
    if surface == "messages":
        async for _, page in _first(client.pages("threads", account_id, per_page=10)):
            for thread in page.items[:1]:
                async for _ in _first(client.pages("messages", account_id, thread_id=thread.id, per_page=10)):
                    pass
        return
    async for _ in _first(client.pages(surface, account_id, per_page=10)):
        pass


async def _first(pages):
    """Only the first page of a walk."""
    async for page in pages:
        yield page
        break
