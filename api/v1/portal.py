"""Client-portal connections (docs/portal/api.md): connect a client's portal login under a signed portal-import
consent, sync it on a schedule or on demand, pause, resume, delete, check it for drift; read what it imported."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from fastapi import APIRouter, Request, Response

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, Page, answers, list_of, list_parameters
from api.schemas.base import one_of
from api.schemas.portal import PortalCheckOut, PortalConnectionCreate, PortalConnectionOut, PortalSyncOut
from api.schemas.portal_surfaces import PortalSurfaceItem
from domain.context import ServiceContext
from domain.listing import parse_list_query
from domain.portal import connection as service
from domain.portal import surfaces
from domain.portal.check import check_connection
from domain.portal.models import PortalConnection, PortalSync
from domain.portal import syncs
from domain.portal.session import ConnectionSession
from orchestration import portal as workflow

router = APIRouter(route_class=JSONRoute, tags=["portal connections"])
log = logging.getLogger("taxpractice.portal")


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def sync_out(sync: PortalSync) -> dict:
    return {"id": str(sync.id), "connection_id": str(sync.connection_id), "trigger": sync.trigger,
            "status": sync.status, "error": sync.error, "started_at": iso(sync.started_at),
            "finished_at": iso(sync.finished_at), "requests_made": sync.requests_made,
            "results": [{"requests": 0, "error": None, **r} for r in sync.results]}


async def reconciled(ctx, state, sync: PortalSync) -> PortalSync:
    """A sync read as `running` whose workflow closed without finishing it (terminated in Temporal's UI, timed
    out) fails now, naming how its workflow closed (lifecycle action `abandon`), instead of running forever and
    blocking every later sync. Recorded by the system actor, in this request's transaction."""
    if sync.status != "running":
        return sync
    try:
        close_status = await workflow.workflow_close_status(await state.temporal(), sync)
    except Exception:  # Temporal out of reach: the row as it stands
        log.warning("workflow of portal sync %s not described", sync.id, exc_info=True)
        return sync
    system = ServiceContext.for_system(ctx.session, sync.firm_id, "portal_reconcile")
    return await syncs.abandon_if_closed(system, sync, close_status)


async def connection_out(ctx, state, connection: PortalConnection) -> dict:
    accounts = await service.accounts_of(ctx.session, connection.id)
    last = await ctx.session.get(PortalSync, connection.last_sync_id) if connection.last_sync_id else None
    if last is not None:
        last = await reconciled(ctx, state, last)
    next_run = None
    if connection.status != "paused":
        try:
            next_run = await workflow.next_run(await state.temporal(), connection.id)
        except Exception:  # Temporal out of reach: the connection still reads; its next run is unknown
            log.warning("next run of portal connection %s unknown", connection.id, exc_info=True)
    return {
        "id": str(connection.id), "client_id": str(connection.client_id), "consent_id": str(connection.consent_id),
        "base_url": connection.base_url, "recipient": connection.recipient, "surfaces": list(connection.surfaces),
        "schedule": connection.schedule, "status": connection.status,
        "accounts": [{"portal_account_id": a.portal_account_id, "name": a.name, "type": a.account_type,
                      "region": a.region, "client_id": str(a.client_id), "matched_by": a.matched_by}
                     for a in accounts],
        "last_sync": sync_out(last) if last else None, "next_run_at": iso(next_run),
        "created_at": iso(connection.created_at), "updated_at": iso(connection.updated_at),
    }


@router.post("/portal-connections", operation_id="create_portal_connection",
             summary="Connect a client's portal login (admin, EA/CPA)",
             **answers(One(PortalConnectionOut), 403, 404, 409, 422, status=201))
async def create_portal_connection(body: PortalConnectionCreate, ctx: Ctx, state: State):
    """Signs in to the portal (with the TOTP second factor) and reads its linked accounts before anything is
    stored; the credentials are stored encrypted and never returned. 422 when the consent does not cover a portal
    import, the portal refuses the sign-in, or an account lies outside the firm's data region."""
    data = body.model_dump()
    data["password"] = body.password.get_secret_value()
    data["totp_secret"] = body.totp_secret.replace(" ", "").upper() if body.totp_secret else None
    connection = await service.create_connection(ctx, data, state.cipher, state.portal, state.settings.data_region,
                                                 state.settings.portal_default_schedule, state.sessionmaker)
    out = await connection_out(ctx, state, connection)
    await state.outbox.commit_and_send(ctx.session, workflow.changed(connection.id))
    out["next_run_at"] = iso(await _next_run_quietly(state, connection.id))
    return envelope.one(out)


async def _next_run_quietly(state, connection_id: uuid.UUID) -> datetime | None:
    try:
        return await workflow.next_run(await state.temporal(), connection_id)
    except Exception:
        return None


@router.get("/portal-connections", operation_id="list_portal_connections", summary="List portal connections",
            **answers(list_of(PortalConnectionOut, service.LIST_SPEC), 403))
async def list_portal_connections(request: Request, ctx: Ctx, state: State):
    """The connections of the clients the caller may see, newest first (spec §3 list: `limit`, `cursor`,
    `fields`, `sort`). Filters: client_id, status, created_at (with __gte/__lte)."""
    query = parse_list_query(list(request.query_params.multi_items()), service.LIST_SPEC)
    page = await service.list_connections(ctx, query)
    page.items = [await connection_out(ctx, state, c) for c in page.items]
    return envelope.page(page, query, lambda out: out)


@router.get("/portal-connections/{connection_id}", operation_id="get_portal_connection",
            summary="Get a portal connection", **answers(One(PortalConnectionOut), 403, 404))
async def get_portal_connection(connection_id: uuid.UUID, ctx: Ctx, state: State):
    return envelope.one(await connection_out(ctx, state, await service.load_connection(ctx, connection_id)))


@router.post("/portal-connections/{connection_id}/sync", operation_id="sync_portal_connection",
             summary="Sync a portal connection now (admin, EA/CPA)",
             **answers(One(PortalSyncOut), 403, 404, 409, status=202))
async def sync_portal_connection(connection_id: uuid.UUID, ctx: Ctx, state: State):
    """Starts one sync; its progress and outcome are at …/syncs/{sync_id}. 409 while paused or while a sync runs."""
    connection = await service.load_connection(ctx, connection_id, "portal.connect")
    running = await service.running_sync(ctx.session, connection.id)
    if running is not None:  # a sync whose workflow was terminated does not block the next one
        await reconciled(ctx, state, running)
    sync = await service.start_sync(ctx, connection_id, "manual")
    sync.workflow_id = workflow.workflow_id(connection_id, sync.id)
    out = sync_out(sync)
    await state.outbox.commit_and_send(ctx.session, workflow.sync_requested(connection_id, sync.id))
    return envelope.one(out)


@router.get("/portal-connections/{connection_id}/syncs/{sync_id}", operation_id="get_portal_sync",
            summary="Get one sync of a portal connection", **answers(One(PortalSyncOut), 403, 404))
async def get_portal_sync(connection_id: uuid.UUID, sync_id: uuid.UUID, ctx: Ctx, state: State):
    """`running` until its workflow ends it; a sync whose workflow was terminated or timed out in Temporal reads
    as `failed` with the error naming how it closed."""
    return envelope.one(sync_out(await reconciled(ctx, state, await service.load_sync(ctx, connection_id, sync_id))))


async def _set_status(connection_id: uuid.UUID, status: str, ctx, state):
    connection = await service.set_status(ctx, connection_id, status)
    out = await connection_out(ctx, state, connection)
    await state.outbox.commit_and_send(ctx.session, workflow.changed(connection.id))
    return envelope.one(out)


@router.post("/portal-connections/{connection_id}/pause", operation_id="pause_portal_connection",
             summary="Pause a portal connection (admin, EA/CPA)",
             **answers(One(PortalConnectionOut), 403, 404, 409))
async def pause_portal_connection(connection_id: uuid.UUID, ctx: Ctx, state: State):
    """Stops the schedule and any sync in flight before its next request."""
    return await _set_status(connection_id, "paused", ctx, state)


@router.post("/portal-connections/{connection_id}/resume", operation_id="resume_portal_connection",
             summary="Resume a paused portal connection (admin, EA/CPA)",
             **answers(One(PortalConnectionOut), 403, 404, 409))
async def resume_portal_connection(connection_id: uuid.UUID, ctx: Ctx, state: State):
    return await _set_status(connection_id, "active", ctx, state)


@router.delete("/portal-connections/{connection_id}", operation_id="delete_portal_connection",
               summary="Delete a portal connection (admin, EA/CPA)", response_class=Response,
               **answers(None, 403, 404, status=204))
async def delete_portal_connection(connection_id: uuid.UUID, ctx: Ctx, state: State):
    """Deletes the schedule, stops any sync in flight and erases the stored credentials; what was imported stays."""
    connection = await service.delete_connection(ctx, connection_id)
    await state.outbox.commit_and_send(ctx.session, workflow.changed(connection.id))
    return Response(status_code=204)


@router.post("/portal-connections/{connection_id}/check", operation_id="check_portal_connection",
             summary="Check a portal connection for drift (admin, EA/CPA)",
             **answers(One(PortalCheckOut), 403, 404))
async def check_portal_connection(connection_id: uuid.UUID, ctx: Ctx, state: State):
    """Signs in, reads one page of every enabled surface of every linked account and holds it to the protocol;
    stores nothing. Each surface answers `ok`, `drift` (with the field) or `refused`."""
    connection = await service.load_connection(ctx, connection_id, "portal.connect")
    opener = ConnectionSession(state.sessionmaker, state.cipher, state.portal, connection.id)
    checks = await check_connection(opener, connection)
    return envelope.one({"connection_id": str(connection.id), "checked_at": iso(datetime.now(timezone.utc)),
                         "ok": all(c.status == "ok" for c in checks),
                         "surfaces": [c.__dict__ for c in checks]})


@router.get("/clients/{client_id}/portal/{surface}", operation_id="list_client_portal_items",
            summary="List what a portal connection imported for a client",
            # Every surface sorts alike (domain/portal/surfaces.py): one set of list parameters.
            **answers(Page(PortalSurfaceItem), 403, 404, headers=list_parameters(surfaces.SPECS["organizers"])))
async def list_client_portal_items(client_id: uuid.UUID, surface: one_of(surfaces.READABLE), request: Request,
                                   ctx: Ctx):
    """`surface`: organizers (answers, attachment document ids), engagements, signatures (audit trails), invoices
    (line items, payments: the portal's, not this firm's own invoices), threads (with their messages), tasks.
    Documents: GET /v1/documents?client_id=…&source=portal. Filters: connection_id, portal_account_id,
    portal_updated_at__gte/lte."""
    spec = surfaces.SPECS[surface]
    query = parse_list_query(list(request.query_params.multi_items()), spec)
    page = await surfaces.list_items(ctx, client_id, surface, query)
    extra = await surfaces.related(ctx, surface, page.items)
    return envelope.page(page, query, lambda item: surfaces.render(item, surface, extra))
