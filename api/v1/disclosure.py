"""A client's §7216 disclosure log (docs/disclosure.md): every decision of the disclosure gate, allowed or refused."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from api import envelope
from api.deps import Ctx
from api.json_route import JSONRoute
from api.openapi import answers, list_of
from api.schemas.disclosure import DisclosureOut
from api.v1.client import iso
from domain.disclosure import service
from domain.disclosure.models import DisclosureLogEntry
from domain.listing import parse_list_query

router = APIRouter(route_class=JSONRoute, tags=["disclosures"])


def _id(value):
    return str(value) if value is not None else None


def disclosure_out(entry: DisclosureLogEntry) -> dict:
    return {
        "id": str(entry.id), "client_id": str(entry.client_id), "recipient": entry.recipient,
        "purpose": entry.purpose, "information": entry.information, "tax_year": entry.tax_year,
        "entity_type": entry.entity_type, "entity_id": _id(entry.entity_id), "allowed": entry.allowed,
        "basis": entry.basis, "consent_id": _id(entry.consent_id),
        "regulatory_exception": entry.regulatory_exception, "refusal_reason": entry.refusal_reason,
        "actor_id": _id(entry.actor_id), "actor_role": entry.actor_role, "system_source": entry.system_source,
        "occurred_at": iso(entry.occurred_at),
    }


@router.get("/clients/{client_id}/disclosures", summary="List a client's disclosure log (staff)",
            operation_id="list_client_disclosures",
            **answers(list_of(DisclosureOut, service.DISCLOSURE_LIST_SPEC), 403, 404))
async def list_client_disclosures(client_id: uuid.UUID, request: Request, ctx: Ctx):
    """Newest first. Filters: purpose, basis, consent_id, occurred_at__gte/lte."""
    query = parse_list_query(list(request.query_params.multi_items()), service.DISCLOSURE_LIST_SPEC)
    return envelope.page(await service.list_disclosures(ctx, client_id, query), query, disclosure_out)
