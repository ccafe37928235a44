"""Engagement letters (spec §10.1–10.7; docs/engagement.md): drafted, sent for e-signature, then signed, declined
or expired by the engagement's workflow. Only a draft changes or is deleted: a sent letter is what the client
reads, and a signed one is what was agreed."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.config.models import SystemConfig
from domain.context import ServiceContext
from domain.event.record import record_event
from domain.engagement.models import ENGAGEMENT_STATUSES, Engagement
from domain.errors import BusinessRuleViolation, Conflict, NotFound
from domain.esign.models import SignatureRequest
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate

RESOURCE = "engagement"

LIST_SPEC = ListSpec(
    filters={"client_id": Filterable(Engagement.client_id, uuid.UUID), "tax_year": Filterable(Engagement.tax_year, int),
             "status": Filterable(Engagement.status, choices=frozenset(ENGAGEMENT_STATUSES))},
    sortable={"created_at": Engagement.created_at},
    id_column=Engagement.id,
    default_sort="-created_at",
    output_fields=frozenset({"id", "client_id", "tax_year", "engagement_type", "services", "status",
                             "fee_structure", "signature_request_id", "sent_at", "signed_at", "declined_at",
                             "expired_at", "document_url", "created_at", "updated_at"}),
)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _visible(ctx: ServiceContext):
    from domain.client.service import readable_clients

    return select(Engagement).where(Engagement.firm_id == ctx.principal.firm_id,
                                    Engagement.client_id.in_(readable_clients(ctx).with_only_columns(Client.id)))


async def load_visible_engagement(ctx: ServiceContext, engagement_id: uuid.UUID, lock: bool = False) -> Engagement:
    stmt = _visible(ctx).where(Engagement.id == engagement_id)
    engagement = (await ctx.session.execute(stmt.with_for_update(of=Engagement) if lock else stmt)).scalar_one_or_none()
    if engagement is None:
        raise NotFound("Engagement")
    return engagement


async def create_engagement(ctx: ServiceContext, data: dict) -> Engagement:
    policy.require(ctx.principal, "engagement.create")
    client = await load_visible_client(ctx, data["client_id"])
    engagement = Engagement(id=uuid.uuid4(), firm_id=client.firm_id, client_id=client.id, tax_year=data["tax_year"],
                            engagement_type=data["engagement_type"], services=data["services"],
                            fee_structure=data["fee_structure"], status="draft", created_by=ctx.principal.user_id)
    ctx.session.add(engagement)
    await ctx.session.flush()
    await ctx.audit("engagement.created", RESOURCE, engagement.id, client_id=client.id,
                    details={"tax_year": engagement.tax_year, "engagement_type": engagement.engagement_type})
    return engagement


async def list_engagements(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, "engagement.list")
    return await paginate(ctx.session, _visible(ctx), query, LIST_SPEC)


async def get_engagement(ctx: ServiceContext, engagement_id: uuid.UUID) -> Engagement:
    policy.require(ctx.principal, "engagement.read")
    return await load_visible_engagement(ctx, engagement_id)


def _only_draft(engagement: Engagement, what: str) -> None:
    if engagement.status != "draft":
        raise BusinessRuleViolation(
            f"The engagement is {engagement.status}: only a draft can be {what} (a sent letter is what the client "
            "reads; a signed one is what was agreed)", code="engagement_not_draft")


async def update_engagement(ctx: ServiceContext, engagement_id: uuid.UUID, changes: dict) -> Engagement:
    policy.require(ctx.principal, "engagement.update")
    engagement = await load_visible_engagement(ctx, engagement_id, lock=True)
    _only_draft(engagement, "changed")
    for name, value in changes.items():
        setattr(engagement, name, value)
    engagement.updated_at = _now()
    await ctx.audit("engagement.updated", RESOURCE, engagement.id, client_id=engagement.client_id,
                    details={"fields": sorted(changes)})
    return engagement


async def delete_engagement(ctx: ServiceContext, engagement_id: uuid.UUID) -> None:
    policy.require(ctx.principal, "engagement.delete")
    engagement = await load_visible_engagement(ctx, engagement_id, lock=True)
    _only_draft(engagement, "deleted")
    await ctx.session.delete(engagement)
    await ctx.audit("engagement.deleted", RESOURCE, engagement.id, client_id=engagement.client_id,
                    details={"tax_year": engagement.tax_year})


async def check_sendable(ctx: ServiceContext, engagement_id: uuid.UUID) -> Engagement:
    policy.require(ctx.principal, "engagement.send")
    engagement = await load_visible_engagement(ctx, engagement_id)
    if engagement.status not in ("draft", "pending_signature"):
        raise BusinessRuleViolation(f"The engagement is {engagement.status}: it cannot be sent",
                                    code="engagement_not_sendable")
    client = await ctx.session.get(Client, engagement.client_id)
    if not client.email:
        raise BusinessRuleViolation("The client has no email address to send the letter to",
                                    code="engagement_not_sendable")
    return engagement


async def signed_request(ctx: ServiceContext, engagement_id: uuid.UUID) -> SignatureRequest:
    """The request whose sealed PDF GET …/document answers."""
    engagement = await get_engagement(ctx, engagement_id)
    if engagement.status != "signed":
        raise NotFound("Signed engagement letter")
    request = await ctx.session.get(SignatureRequest, engagement.signature_request_id)
    if request is None or request.signed_document_key is None:
        raise Conflict("The signed letter is being sealed; try again in a few seconds")
    await ctx.audit("engagement.document_downloaded", RESOURCE, engagement.id, client_id=engagement.client_id)
    return request


async def signed_for_year(ctx: ServiceContext, client_id: uuid.UUID, tax_year: int) -> bool:
    return (await ctx.session.execute(select(Engagement.id).where(
        Engagement.firm_id == ctx.principal.firm_id, Engagement.client_id == client_id,
        Engagement.tax_year == tax_year, Engagement.status == "signed").limit(1))).scalar() is not None


async def require_signed_before_prep(ctx: ServiceContext, client_id: uuid.UUID, tax_year: int) -> None:
    """The firm's setting engagement_required_before_prep: a return leaves intake only once its client's engagement
    letter for that tax year is signed (422 engagement_not_signed)."""
    config = await ctx.session.get(SystemConfig, ctx.principal.firm_id)
    if config is None or not config.engagement_required_before_prep:
        return
    if not await signed_for_year(ctx, client_id, tax_year):
        raise BusinessRuleViolation(
            f"The firm requires a signed engagement letter for {tax_year} before a return leaves intake",
            code="engagement_not_signed")


# ---- the workflow's and the callback's steps (system actor) ----------------------------------------------------

async def mark_sent(ctx: ServiceContext, engagement_id: uuid.UUID, request: SignatureRequest) -> Engagement:
    policy.require(ctx.principal, "esign.workflow")
    engagement = await load_visible_engagement(ctx, engagement_id, lock=True)
    if engagement.status == "draft":
        engagement.status, engagement.sent_at = "pending_signature", request.sent_at
        engagement.signature_request_id = request.id
        await ctx.audit("engagement.sent", RESOURCE, engagement.id, client_id=engagement.client_id,
                        details={"signature_request_id": str(request.id)})
    return engagement


async def on_signature(ctx: ServiceContext, engagement_id: uuid.UUID, outcome: str, at: datetime) -> str | None:
    policy.require(ctx.principal, "esign.workflow")
    engagement = await load_visible_engagement(ctx, engagement_id, lock=True)
    if engagement.status != "pending_signature":
        return f"the engagement is {engagement.status}"
    if outcome == "completed":
        engagement.status, engagement.signed_at = "signed", at
    else:
        engagement.status, engagement.declined_at = "declined", at
    await ctx.audit(f"engagement.{engagement.status}", RESOURCE, engagement.id, client_id=engagement.client_id)
    if engagement.status == "signed":
        record_event(ctx, "engagement.signed", RESOURCE, engagement.id, engagement.client_id, {"status": "signed"})
    return None


async def expire(ctx: ServiceContext, engagement_id: uuid.UUID, at: datetime) -> str:
    policy.require(ctx.principal, "esign.workflow")
    engagement = await load_visible_engagement(ctx, engagement_id, lock=True)
    if engagement.status == "pending_signature":
        engagement.status, engagement.expired_at = "expired", at
        await ctx.audit("engagement.expired", RESOURCE, engagement.id, client_id=engagement.client_id)
    return engagement.status
