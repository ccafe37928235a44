"""Reading the disclosure log: what left (or was refused) for one client, newest first (spec §3 list)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select

from domain import policy
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.disclosure.basis import PURPOSES
from domain.disclosure.models import DisclosureLogEntry
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate

BASES = ("consent", "exception", "none")

DISCLOSURE_LIST_SPEC = ListSpec(
    filters={
        "purpose": Filterable(DisclosureLogEntry.purpose, choices=frozenset(PURPOSES)),
        "basis": Filterable(DisclosureLogEntry.basis, choices=frozenset(BASES)),
        "consent_id": Filterable(DisclosureLogEntry.consent_id, uuid.UUID),
        "occurred_at": Filterable(DisclosureLogEntry.occurred_at, datetime, ("gte", "lte")),
    },
    sortable={"occurred_at": DisclosureLogEntry.occurred_at},
    id_column=DisclosureLogEntry.id,
    default_sort="-occurred_at",
    output_fields=frozenset({"id", "client_id", "recipient", "purpose", "information", "tax_year", "entity_type",
                             "entity_id", "allowed", "basis", "consent_id", "regulatory_exception",
                             "refusal_reason", "actor_id", "actor_role", "system_source", "occurred_at"}),
)


async def list_disclosures(ctx: ServiceContext, client_id: uuid.UUID, query: ListQuery) -> Page:
    """Staff who may see the client (preparers: their assigned clients) read its disclosure log."""
    policy.require(ctx.principal, "disclosure.list")
    await load_visible_client(ctx, client_id)
    stmt = select(DisclosureLogEntry).where(DisclosureLogEntry.firm_id == ctx.principal.firm_id,
                                            DisclosureLogEntry.client_id == client_id)
    return await paginate(ctx.session, stmt, query, DISCLOSURE_LIST_SPEC)
