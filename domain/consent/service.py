"""Form 7216 consents (spec §10; docs/consent.md): created by senior staff, sent to the taxpayer for e-signature,
signed (in force until `expires_at`), declined, revoked at once, or expired by the consent's workflow.

The gate (domain/disclosure/gate.py) reads the row at every disclosure, so a revocation committed here refuses
the next disclosure even before the consent's workflow hears of it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.consent.models import Consent
from domain.consent.templates import CURRENT, TEMPLATES
from domain.context import ServiceContext
from domain.event.record import record_event
from domain.disclosure.basis import DisclosurePurpose
from domain.disclosure.gate import recipient_key
from domain.errors import BusinessRuleViolation, FieldError, NotFound, ValidationFailed
from domain.esign.models import SignatureRequest

# The spec's create body names no purpose code: a recipient the system discloses to for one purpose only implies it
# (as migration 0020 decided for consents recorded before codes). Any other recipient must name its purpose.
PURPOSE_BY_RECIPIENT = {"sureprep": DisclosurePurpose.DOCUMENT_PROCESSING}
# What a consent covers when the request does not say, per purpose: the information that path sends.
DEFAULT_INFORMATION = {
    DisclosurePurpose.DOCUMENT_PROCESSING: "the tax documents you provide (such as Forms W-2, 1099 and 1098) and "
                                           "the information on them",
    DisclosurePurpose.PORTAL_IMPORT: "your name, contact details, tax documents and the status of your return",
    DisclosurePurpose.WEBHOOK_DELIVERY: "the status of your return and of your documents",
}
RESOURCE = "consent"


def one_year_after(moment: datetime) -> datetime:
    """Rev. Proc. 2013-14: a consent without a duration lasts one year (29 February → 28 February)."""
    try:
        return moment.replace(year=moment.year + 1)
    except ValueError:
        return moment.replace(year=moment.year + 1, day=28)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _bad(field: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, [FieldError(field, code, message)])


async def create_consent(ctx: ServiceContext, client_id: uuid.UUID, data: dict) -> Consent:
    policy.require(ctx.principal, "consent.create")
    client = await load_visible_client(ctx, client_id)
    kind = data["kind"]
    recipient = data.get("third_party_name")
    if kind == "disclosure" and not recipient:
        raise _bad("third_party_name", "required", "A disclosure consent names its recipient")
    purpose = data.get("purpose")
    if purpose is None and kind == "disclosure":
        purpose = PURPOSE_BY_RECIPIENT.get(recipient_key(recipient))
        if purpose is None:
            raise _bad("purpose", "required", "Name the purpose code the consent covers ("
                       + ", ".join(p.value for p in DisclosurePurpose) + ")")
    information = data.get("information_covered") or (DEFAULT_INFORMATION.get(DisclosurePurpose(purpose))
                                                      if purpose else None)
    if not information:
        raise _bad("information_covered", "required", "Name the return information the consent covers")
    expires_at = data.get("expires_at")
    if expires_at is not None and expires_at <= _now():
        raise _bad("expires_at", "in_the_past", "A consent cannot end before it is signed")
    consent = Consent(
        id=uuid.uuid4(), firm_id=client.firm_id, client_id=client.id, tax_year=data["tax_year"], kind=kind,
        consent_scope=data["consent_scope"], third_party_name=recipient or "(the preparer)",
        disclosure_purpose=data["disclosure_purpose"], purpose=purpose and DisclosurePurpose(purpose).value,
        information_covered=information, requested_expires_at=expires_at, status="pending",
        template_version=CURRENT[kind], created_by=ctx.principal.user_id)
    ctx.session.add(consent)
    await ctx.session.flush()
    await ctx.audit("consent.created", RESOURCE, consent.id, client_id=client.id,
                    details={"kind": kind, "recipient": consent.third_party_name, "purpose": consent.purpose,
                             "template_version": consent.template_version})
    return consent


async def list_consents(ctx: ServiceContext, client_id: uuid.UUID) -> list[Consent]:
    policy.require(ctx.principal, "consent.list")
    await load_visible_client(ctx, client_id)
    return list((await ctx.session.execute(select(Consent).where(
        Consent.firm_id == ctx.principal.firm_id, Consent.client_id == client_id)
        .order_by(Consent.created_at.desc(), Consent.id))).scalars())


async def load_visible_consent(ctx: ServiceContext, consent_id: uuid.UUID, lock: bool = False) -> Consent:
    stmt = select(Consent).where(Consent.id == consent_id, Consent.firm_id == ctx.principal.firm_id)
    consent = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if consent is None:
        raise NotFound("Consent")
    await load_visible_client(ctx, consent.client_id)  # 404 for a client the caller may not see
    return consent


async def get_consent(ctx: ServiceContext, consent_id: uuid.UUID) -> tuple[Consent, SignatureRequest | None]:
    policy.require(ctx.principal, "consent.read")
    consent = await load_visible_consent(ctx, consent_id)
    request = (await ctx.session.get(SignatureRequest, consent.signature_request_id)
               if consent.signature_request_id else None)
    return consent, request


async def check_sendable(ctx: ServiceContext, consent_id: uuid.UUID) -> Consent:
    policy.require(ctx.principal, "consent.send")
    consent = await load_visible_consent(ctx, consent_id)
    if consent.status not in ("pending", "sent"):
        raise BusinessRuleViolation(f"The consent is {consent.status}: only a pending consent is sent",
                                    code="consent_not_sendable")
    if consent.template_version not in TEMPLATES or not consent.information_covered:
        # Recorded before consents had versioned words (migration 0021): there is no text the client could sign.
        raise BusinessRuleViolation("The consent was recorded without a form version; create a new one to send",
                                    code="consent_not_sendable")
    client = await ctx.session.get(Client, consent.client_id)
    if not client.email:
        raise BusinessRuleViolation("The client has no email address to send the consent to",
                                    code="consent_not_sendable")
    return consent


async def revoke_consent(ctx: ServiceContext, consent_id: uuid.UUID) -> Consent:
    """At once: the gate refuses the next disclosure from this commit on; the workflow then stops its timer (and
    closes an unsigned request's signing link)."""
    policy.require(ctx.principal, "consent.revoke")
    consent = await load_visible_consent(ctx, consent_id, lock=True)
    if consent.status not in ("pending", "sent", "signed"):
        raise BusinessRuleViolation(f"The consent is {consent.status}: there is nothing to revoke",
                                    code="consent_not_revocable")
    before = consent.status
    consent.status, consent.revoked_at, consent.revoked_by = "revoked", _now(), ctx.principal.subject_id
    await ctx.audit("consent.revoked", RESOURCE, consent.id, client_id=consent.client_id,
                    details={"from_status": before, "by_role": ctx.principal.role.value})
    record_event(ctx, "consent.revoked", RESOURCE, consent.id, consent.client_id, {"status": "revoked"})
    return consent


# ---- the workflow's and the callback's steps (system actor) ----------------------------------------------------

async def mark_sent(ctx: ServiceContext, consent_id: uuid.UUID, request: SignatureRequest) -> Consent:
    policy.require(ctx.principal, "esign.workflow")
    consent = await load_visible_consent(ctx, consent_id, lock=True)
    if consent.status == "pending":
        consent.status, consent.sent_at, consent.signature_request_id = "sent", request.sent_at, request.id
        await ctx.audit("consent.sent", RESOURCE, consent.id, client_id=consent.client_id,
                        details={"signature_request_id": str(request.id)})
    return consent


async def on_signature(ctx: ServiceContext, consent_id: uuid.UUID, outcome: str, at: datetime) -> str | None:
    """The signer signed or declined; None when applied, else why the callback cannot change the consent."""
    policy.require(ctx.principal, "esign.workflow")
    consent = await load_visible_consent(ctx, consent_id, lock=True)
    if consent.status != "sent":
        return f"the consent is {consent.status}"
    if outcome == "completed":
        consent.status, consent.signed_at = "signed", at
        consent.expires_at = consent.requested_expires_at or one_year_after(at)
        details = {"expires_at": consent.expires_at.isoformat()}
    else:
        consent.status, consent.declined_at, details = "declined", at, {}
    await ctx.audit(f"consent.{consent.status}", RESOURCE, consent.id, client_id=consent.client_id,
                    details=details)
    if consent.status == "signed":
        record_event(ctx, "consent.signed", RESOURCE, consent.id, consent.client_id, {"status": "signed"})
    return None


async def expire(ctx: ServiceContext, consent_id: uuid.UUID, at: datetime) -> str:
    """The consent's timer fired: a signed consent past its end becomes `expired`. Returns the status."""
    policy.require(ctx.principal, "esign.workflow")
    consent = await load_visible_consent(ctx, consent_id, lock=True)
    if consent.status == "signed" and consent.expires_at is not None and consent.expires_at <= at + timedelta(seconds=1):
        consent.status = "expired"
        await ctx.audit("consent.expired", RESOURCE, consent.id, client_id=consent.client_id,
                        details={"expires_at": consent.expires_at.isoformat()})
    return consent.status
