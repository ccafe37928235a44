"""Engagement letters (spec §10.1–10.7; docs/engagement.md)."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api import envelope
from api.deps import Ctx, State
from api.schemas.base import patch_changes
from api.schemas.signing import EngagementCreate, EngagementOut, EngagementUpdate, Many, One, SendOut, problem_responses
from domain.engagement import service
from domain.engagement.models import Engagement
from domain.esign.service import filename_of
from domain.listing import parse_list_query
from orchestration import engagement as workflow

router = APIRouter(tags=["engagements"])


def engagement_out(engagement: Engagement) -> dict:
    return {
        "id": engagement.id, "client_id": engagement.client_id, "tax_year": engagement.tax_year,
        "engagement_type": engagement.engagement_type, "services": engagement.services,
        "status": engagement.status, "fee_structure": engagement.fee_structure,
        "signature_request_id": engagement.signature_request_id, "sent_at": engagement.sent_at,
        "signed_at": engagement.signed_at, "declined_at": engagement.declined_at,
        "expired_at": engagement.expired_at,
        "document_url": f"/v1/engagements/{engagement.id}/document" if engagement.status == "signed" else None,
        "created_at": engagement.created_at, "updated_at": engagement.updated_at,
    }


def _fee_json(body) -> dict:
    return body.model_dump(mode="json", exclude_none=True)


@router.get("/engagements", summary="List engagements", operation_id="list_engagements",
            response_model=Many[EngagementOut], responses=problem_responses(400, 401, 403))
async def list_engagements(request: Request, ctx: Ctx):
    """Filters: client_id, tax_year, status. Staff see the engagements of the clients they can see."""
    query = parse_list_query(list(request.query_params.multi_items()), service.LIST_SPEC)
    return envelope.page(await service.list_engagements(ctx, query), query, engagement_out)


@router.post("/engagements", status_code=201, summary="Create a draft engagement (admin, EA/CPA, reviewer)",
             operation_id="create_engagement", response_model=One[EngagementOut],
             responses=problem_responses(400, 401, 403, 404))
async def create_engagement(body: EngagementCreate, ctx: Ctx):
    data = body.model_dump()
    data["fee_structure"] = _fee_json(body.fee_structure)
    return envelope.one(engagement_out(await service.create_engagement(ctx, data)))


@router.get("/engagements/{engagement_id}", summary="Get an engagement", operation_id="get_engagement",
            response_model=One[EngagementOut], responses=problem_responses(401, 403, 404))
async def get_engagement(engagement_id: uuid.UUID, ctx: Ctx):
    return envelope.one(engagement_out(await service.get_engagement(ctx, engagement_id)))


@router.patch("/engagements/{engagement_id}", summary="Update a draft engagement", operation_id="update_engagement",
              response_model=One[EngagementOut], responses=problem_responses(400, 401, 403, 404, 422))
async def update_engagement(engagement_id: uuid.UUID, body: EngagementUpdate, ctx: Ctx):
    """Only a draft changes (422 engagement_not_draft): a sent letter is what the client reads."""
    changes = patch_changes(body)
    if "fee_structure" in changes:
        changes["fee_structure"] = _fee_json(body.fee_structure)
    return envelope.one(engagement_out(await service.update_engagement(ctx, engagement_id, changes)))


@router.delete("/engagements/{engagement_id}", status_code=204, summary="Delete a draft engagement (admin, EA/CPA)",
               operation_id="delete_engagement", responses=problem_responses(401, 403, 404, 422))
async def delete_engagement(engagement_id: uuid.UUID, ctx: Ctx):
    await service.delete_engagement(ctx, engagement_id)
    return Response(status_code=204)


@router.post("/engagements/{engagement_id}/send", summary="Send the engagement letter for e-signature",
             operation_id="send_engagement", response_model=One[SendOut],
             responses={202: {"description": "The provider is slow: the engagement's workflow keeps sending"},
                        **problem_responses(401, 403, 404, 422, 502, 503)})
async def send_engagement(engagement_id: uuid.UUID, ctx: Ctx, state: State):
    """Renders the letter (firm, client, tax year, services, fees) as a PDF, stores it in S3 and asks the
    e-signature provider, which mails the client the signing link. Reminders follow on days 3, 5 and 7; the
    letter expires unsigned after ENGAGEMENT_SIGNATURE_DAYS (30)."""
    engagement = await service.check_sendable(ctx, engagement_id)
    result = await workflow.send(await state.temporal(), engagement, state.settings.engagement_signature_days)
    if result is None:
        return JSONResponse(envelope.one({"id": str(engagement.id), "status": engagement.status,
                                          "signature_request_id": None, "sent_at": None}), status_code=202)
    return envelope.one({"id": engagement.id, "status": result.status,
                         "signature_request_id": result.signature_request_id, "sent_at": result.sent_at})


@router.get("/engagements/{engagement_id}/document", summary="Download the signed engagement letter (PDF)",
            operation_id="get_engagement_document",
            responses={200: {"content": {"application/pdf": {}}, "description": "The signed, sealed PDF"},
                       **problem_responses(401, 403, 404, 409)})
async def get_engagement_document(engagement_id: uuid.UUID, ctx: Ctx, state: State):
    """The letter as signed, with its certificate of completion, sealed by the firm (PAdES): a PDF reader shows
    whether it changed after signing. 404 until signed; 409 for the seconds while it is being sealed."""
    request = await service.signed_request(ctx, engagement_id)
    content = await asyncio.to_thread(state.storage.get_bytes, request.signed_document_key)
    filename = filename_of(request).removesuffix(".pdf") + "-signed.pdf"
    return Response(content, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
