"""Engagement letters (spec §10.1–10.7; docs/engagement.md)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.money_json import MoneyJSONResponse
from api.openapi import One, answers, list_of
from api.schemas.base import patch_changes
from api.schemas.signing import EngagementCreate, EngagementOut, EngagementUpdate, SendOut
from api.v1.client import iso
from api.v1.signing import SENDING, sent_out
from domain.engagement import service
from domain.engagement.models import Engagement
from domain.esign.service import filename_of
from domain.listing import parse_list_query
from orchestration import engagement as workflow

router = APIRouter(route_class=JSONRoute, tags=["engagements"])


def fee_structure_out(fees: dict) -> dict:
    """The stored decimal strings as amounts (MoneyJSONResponse prints them with two decimals)."""
    return {name: value if name == "type" else Decimal(str(value)) for name, value in fees.items()}


def engagement_out(engagement: Engagement) -> dict:
    return {
        "id": str(engagement.id), "client_id": str(engagement.client_id), "tax_year": engagement.tax_year,
        "engagement_type": engagement.engagement_type, "services": engagement.services,
        "status": engagement.status, "fee_structure": fee_structure_out(engagement.fee_structure),
        "signature_request_id": str(engagement.signature_request_id) if engagement.signature_request_id else None,
        "sent_at": iso(engagement.sent_at), "signed_at": iso(engagement.signed_at),
        "declined_at": iso(engagement.declined_at), "expired_at": iso(engagement.expired_at),
        "document_url": f"/v1/engagements/{engagement.id}/document" if engagement.status == "signed" else None,
        "created_at": iso(engagement.created_at), "updated_at": iso(engagement.updated_at),
    }


def _fee_json(body) -> dict:
    return body.model_dump(mode="json", exclude_none=True)


@router.get("/engagements", summary="List engagements", operation_id="list_engagements",
            **answers(list_of(EngagementOut, service.LIST_SPEC)))
async def list_engagements(request: Request, ctx: Ctx):
    """Filters: client_id, tax_year, status. Staff see the engagements of the clients they can see; a client
    sees their own."""
    query = parse_list_query(list(request.query_params.multi_items()), service.LIST_SPEC)
    return MoneyJSONResponse(envelope.page(await service.list_engagements(ctx, query), query, engagement_out))


@router.post("/engagements", summary="Create a draft engagement (admin, EA/CPA, reviewer)",
             operation_id="create_engagement", **answers(One(EngagementOut), 403, 404, status=201))
async def create_engagement(body: EngagementCreate, ctx: Ctx):
    data = body.model_dump()
    data["fee_structure"] = _fee_json(body.fee_structure)
    engagement = await service.create_engagement(ctx, data)
    return MoneyJSONResponse(envelope.one(engagement_out(engagement)), status_code=201)


@router.get("/engagements/{engagement_id}", summary="Get an engagement", operation_id="get_engagement",
            **answers(One(EngagementOut), 404))
async def get_engagement(engagement_id: uuid.UUID, ctx: Ctx):
    return MoneyJSONResponse(envelope.one(engagement_out(await service.get_engagement(ctx, engagement_id))))


@router.patch("/engagements/{engagement_id}", summary="Update a draft engagement", operation_id="update_engagement",
              **answers(One(EngagementOut), 403, 404, 422))
async def update_engagement(engagement_id: uuid.UUID, body: EngagementUpdate, ctx: Ctx):
    """Only a draft changes (422 engagement_not_draft): a sent letter is what the client reads."""
    changes = patch_changes(body)
    if "fee_structure" in changes:
        changes["fee_structure"] = _fee_json(body.fee_structure)
    engagement = await service.update_engagement(ctx, engagement_id, changes)
    return MoneyJSONResponse(envelope.one(engagement_out(engagement)))


@router.delete("/engagements/{engagement_id}", summary="Delete a draft engagement (admin, EA/CPA)",
               operation_id="delete_engagement", **answers(None, 403, 404, 422, status=204,
                                                           description="Deleted"))
async def delete_engagement(engagement_id: uuid.UUID, ctx: Ctx):
    await service.delete_engagement(ctx, engagement_id)
    return Response(status_code=204)


@router.post("/engagements/{engagement_id}/send", summary="Send the engagement letter for e-signature",
             operation_id="send_engagement", **answers(One(SendOut), 403, 404, 422, also=SENDING))
async def send_engagement(engagement_id: uuid.UUID, ctx: Ctx, state: State):
    """Renders the letter (firm, client, tax year, services, fees) as a PDF, stores it in S3 and asks the
    e-signature provider, which mails the client the signing link. Reminders follow on days 3, 5 and 7; the
    letter expires unsigned after ENGAGEMENT_SIGNATURE_DAYS (30)."""
    engagement = await service.check_sendable(ctx, engagement_id)
    result = await workflow.send(await state.temporal(), engagement, state.settings.engagement_signature_days)
    if result is None:
        return JSONResponse(envelope.one(sent_out(engagement.id, engagement.status)), status_code=202)
    return envelope.one(sent_out(engagement.id, result.status, result.signature_request_id, result.sent_at))


@router.get("/engagements/{engagement_id}/document", summary="Download the signed engagement letter (PDF)",
            operation_id="get_engagement_document", response_class=Response,
            **answers(None, 404, 409, description="The signed, sealed PDF",
                      content={"application/pdf": {"schema": {"type": "string", "format": "binary"}}}))
async def get_engagement_document(engagement_id: uuid.UUID, ctx: Ctx, state: State):
    """The letter as signed, with its certificate of completion, sealed by the firm (PAdES): a PDF reader shows
    whether it changed after signing. 404 until signed; 409 for the seconds while it is being sealed."""
    request = await service.signed_request(ctx, engagement_id)
    content = await asyncio.to_thread(state.storage.get_bytes, request.signed_document_key)
    filename = filename_of(request).removesuffix(".pdf") + "-signed.pdf"
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
