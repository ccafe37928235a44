"""Reading what a connection imported, per client and surface (GET /v1/clients/{id}/portal/{surface}, spec §3
lists). Documents are read through the documents API instead (`source: "portal"`). Invoices here are the
portal's, kept apart from the invoices this firm issues (domain/invoice/)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from domain import policy
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.portal.models import PortalItem
from integrations import portal_models as pm

# The API's surface names, and the stored surface (and protocol model) each reads.
READABLE = {"organizers": pm.Organizer, "engagements": pm.Engagement, "signatures": pm.Signature,
            "invoices": pm.Invoice, "threads": pm.Thread, "tasks": pm.Task}
COMMON = ("id", "client_id", "connection_id", "portal_account_id", "portal_id", "portal_updated_at", "imported_at")


def _fields(surface: str) -> frozenset[str]:
    own = [name for name in READABLE[surface].model_fields if name not in ("id", "updated_at")]
    return frozenset((*COMMON, *own, *(["messages"] if surface == "threads" else [])))


SPECS = {surface: ListSpec(
    filters={"connection_id": Filterable(PortalItem.connection_id, uuid.UUID),
             "portal_account_id": Filterable(PortalItem.portal_account_id),
             "portal_updated_at": Filterable(PortalItem.portal_updated_at, datetime, ("gte", "lte"))},
    sortable={"portal_updated_at": PortalItem.portal_updated_at},
    id_column=PortalItem.id, default_sort="-portal_updated_at", output_fields=_fields(surface))
    for surface in READABLE}


async def list_items(ctx: ServiceContext, client_id: uuid.UUID, surface: str, query: ListQuery) -> Page:
    policy.require(ctx.principal, "portal.read")
    await load_visible_client(ctx, client_id)
    stmt = select(PortalItem).where(PortalItem.firm_id == ctx.principal.firm_id, PortalItem.client_id == client_id,
                                    PortalItem.surface == surface)
    return await paginate(ctx.session, stmt, query, SPECS[surface])


async def related(ctx: ServiceContext, surface: str, items: list[PortalItem]) -> dict:
    """What rendering a page needs besides its rows: a thread's messages; the document ids of the portal
    documents an organizer's answers attach (portal ids are per account, so the lookup is by account)."""
    if not items:
        return {}
    if surface == "threads":
        rows = await ctx.session.execute(select(PortalItem).where(
            PortalItem.surface == "messages",
            PortalItem.connection_id.in_({i.connection_id for i in items}),
            PortalItem.parent_item_id.in_({i.portal_item_id for i in items}))
            .order_by(PortalItem.data["sent_at"].astext, PortalItem.portal_item_id))
        messages: dict = {}
        for row in rows.scalars():
            messages.setdefault((row.connection_id, row.portal_account_id, row.parent_item_id), []).append(row)
        return messages
    if surface == "organizers":
        rows = await ctx.session.execute(select(PortalItem).where(
            PortalItem.surface == "documents", PortalItem.connection_id.in_({i.connection_id for i in items})))
        return {(r.connection_id, r.portal_account_id, r.portal_item_id): r.document_id for r in rows.scalars()}
    return {}


def render(item: PortalItem, surface: str, related_rows: dict) -> dict:
    data = dict(item.data)
    data.pop("id", None)
    data.pop("updated_at", None)
    key = (item.connection_id, item.portal_account_id)
    if surface == "threads":
        data["messages"] = [{"portal_id": m.portal_item_id, **{k: v for k, v in m.data.items() if k != "id"}}
                            for m in related_rows.get((*key, item.portal_item_id), [])]
    if surface == "organizers":
        for question in data["questions"]:
            question["attachment_document_ids"] = [
                str(doc) if (doc := related_rows.get((*key, portal_id))) else None
                for portal_id in question["attachment_ids"]]
    return {"id": str(item.id), "client_id": str(item.client_id), "connection_id": str(item.connection_id),
            "portal_account_id": item.portal_account_id, "portal_id": item.portal_item_id,
            "portal_updated_at": item.portal_updated_at.isoformat().replace("+00:00", "Z"),
            "imported_at": item.created_at.isoformat().replace("+00:00", "Z"), **data}
