"""Identity verification (spec §12): a verification of a client at a tier, through the methods asked for.

- email / phone: a six-digit one-time code, valid 10 minutes, dead after 3 wrong tries, at most 3 codes an hour
  per channel; sent by the verification's workflow (IdentityVerificationWorkflow) through the mail or the SMS
  gateway, kept encrypted meanwhile.
- government_id: a Persona inquiry; its webhook's confidence decides: ≥ 0.90 approves, 0.70–0.89 goes to
  manual review by staff, below rejects.
- video (tier 3): a meeting scheduled with a calendar invitation by mail; staff record the outcome (review).
The verification's status follows its steps, and the client's `identity_verification_status` follows it.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import func, select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.event.record import record_event
from domain.crypto import FieldCipher
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, RateLimited
from domain.identity.models import IdentityVerification, VerificationCode

METHODS = ("email", "phone", "government_id", "video")
# The least each tier asks for (NIST SP 800-63A's spirit: tier 2 proofs a document, tier 3 a person on camera).
TIER_REQUIRES = {1: (), 2: ("government_id",), 3: ("government_id", "video")}
CODE_TTL = timedelta(minutes=10)
CODE_WRONG_TRIES = 3
CODES_PER_HOUR = 3
VERIFICATION_TTL = timedelta(days=7)
APPROVE_AT, REVIEW_AT = Decimal("0.90"), Decimal("0.70")
FINAL = ("completed", "failed", "expired")
# The client's identity_verification_status for each verification status.
CLIENT_STATUS = {"pending": "pending", "in_progress": "pending", "needs_review": "pending_review",
                 "completed": "verified", "failed": "failed", "expired": "expired"}
REVIEW_DECISIONS = ("approve", "reject")
VIDEO_HORIZON = timedelta(days=60)  # a video call is booked at most this far ahead


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- the status, from the steps (pure) --------------------------------------------------------------------------

def settle(verification: IdentityVerification) -> None:
    """The verification's status and current step from its steps: a failed step fails it; a step in review holds
    it in review; every step completed completes it (its confidence that of the government ID, if any)."""
    statuses = [s["status"] for s in verification.steps]
    if verification.status == "expired":
        return
    if "failed" in statuses:
        verification.status = "failed"
    elif "needs_review" in statuses:
        verification.status = "needs_review"
    elif all(s == "completed" for s in statuses):
        verification.status, verification.completed_at = "completed", verification.completed_at or _now()
    else:
        verification.status = "in_progress" if "completed" in statuses else "pending"


def current_step(verification: IdentityVerification) -> str | None:
    return next((s["step"] for s in verification.steps if s["status"] != "completed"), None)


def government_id_outcome(confidence: Decimal) -> str:
    if confidence >= APPROVE_AT:
        return "completed"
    return "needs_review" if confidence >= REVIEW_AT else "failed"


def _set_step(verification: IdentityVerification, step: str, status: str, **facts) -> None:
    # A new list: the JSONB column is saved when the attribute is assigned, not when a nested dict changes.
    verification.steps = [({**s, "status": status, **facts} if s["step"] == step else s) for s in verification.steps]


def _step(verification: IdentityVerification, step: str) -> dict:
    found = next((s for s in verification.steps if s["step"] == step), None)
    if found is None:
        raise BusinessRuleViolation(f"This verification does not include the {step} step",
                                    [FieldError(step, "step_not_requested", "initiate with this method")],
                                    code="step_not_requested")
    return found


async def _follow(ctx: ServiceContext, verification: IdentityVerification) -> None:
    """The client's status follows the verification; every change of it is audited."""
    settle(verification)
    client = await ctx.session.get(Client, verification.client_id, with_for_update=True)
    status = CLIENT_STATUS[verification.status]
    if client.identity_verification_status != status:
        await ctx.audit("client.identity_verification_status", "client", client.id, client_id=client.id,
                        details={"from": client.identity_verification_status, "to": status,
                                 "verification_id": str(verification.id)})
        client.identity_verification_status = status
        if status == "verified":
            record_event(ctx, "identity.verified", "identity_verification", verification.id, client.id,
                         {"status": "verified"})


# ---- loading ----------------------------------------------------------------------------------------------------

async def load_visible(ctx: ServiceContext, verification_id: uuid.UUID, action: str = "identity.read",
                       lock: bool = False) -> IdentityVerification:
    policy.require(ctx.principal, action)
    stmt = select(IdentityVerification).where(IdentityVerification.id == verification_id,
                                              IdentityVerification.firm_id == ctx.principal.firm_id)
    verification = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if verification is None:
        raise NotFound("Verification")
    try:
        await load_visible_client(ctx, verification.client_id)
    except NotFound:
        raise NotFound("Verification") from None
    return verification


def _open(verification: IdentityVerification) -> None:
    if verification.status in FINAL or verification.expires_at <= _now():
        raise Conflict(f"The verification is {verification.status if verification.status in FINAL else 'expired'}")


# ---- initiating -------------------------------------------------------------------------------------------------

async def initiate(ctx: ServiceContext, client_id: uuid.UUID, tier: int, methods: list[str]
                   ) -> IdentityVerification:
    policy.require(ctx.principal, "identity.initiate")
    client = await load_visible_client(ctx, client_id)
    wanted = list(dict.fromkeys(methods))
    missing = [m for m in TIER_REQUIRES[tier] if m not in wanted]
    if missing or (tier == 1 and not {"email", "phone"} & set(wanted)):
        needs = missing or ["email or phone"]
        # A rule across two fields the document cannot state: a business rule (422), not a malformed body.
        detail = f"Tier {tier} needs {', '.join(needs)}"
        raise BusinessRuleViolation(detail, [FieldError("methods", "tier_requirement", detail)],
                                    code="tier_requirement")
    if "email" in wanted and not client.email:
        raise BusinessRuleViolation("The client has no email address", [FieldError("email", "missing", "")],
                                    code="contact_missing")
    if "phone" in wanted and not client.phone:
        raise BusinessRuleViolation("The client has no phone number", [FieldError("phone", "missing", "")],
                                    code="contact_missing")
    verification = IdentityVerification(
        id=uuid.uuid4(), firm_id=client.firm_id, client_id=client.id, tier=tier, status="pending",
        steps=[{"step": m, "status": "pending"} for m in wanted], expires_at=_now() + VERIFICATION_TTL,
        created_by=None if ctx.is_system else ctx.principal.subject_id)
    ctx.session.add(verification)
    await ctx.session.flush()
    await ctx.audit("identity.initiate", "identity_verification", verification.id, client_id=client.id,
                    details={"tier": tier, "methods": wanted})
    await _follow(ctx, verification)
    return verification


# ---- one-time codes ---------------------------------------------------------------------------------------------

async def new_code(ctx: ServiceContext, verification_id: uuid.UUID, channel: str, delivery: str,
                   cipher: FieldCipher) -> VerificationCode:
    """A fresh code for the channel (the workflow sends it): at most CODES_PER_HOUR an hour (429 beyond)."""
    verification = await load_visible(ctx, verification_id, "identity.verify", lock=True)
    _open(verification)
    if _step(verification, channel)["status"] == "completed":
        raise Conflict(f"The {channel} step is completed")
    now = _now()
    sent, oldest = (await ctx.session.execute(
        select(func.count(), func.min(VerificationCode.created_at)).where(
            VerificationCode.verification_id == verification.id, VerificationCode.channel == channel,
            VerificationCode.created_at > now - timedelta(hours=1)))).one()
    if sent >= CODES_PER_HOUR:
        # Admitted again when the oldest code of the hour leaves the window.
        retry_after_s = max(1, int((oldest + timedelta(hours=1) - now).total_seconds()) + 1)
        raise RateLimited(f"At most {CODES_PER_HOUR} {channel} codes an hour; try again later", retry_after_s)
    code_id = uuid.uuid4()
    code = f"{secrets.randbelow(10 ** 6):06d}"
    row = VerificationCode(id=code_id, verification_id=verification.id, channel=channel, delivery=delivery,
                           code_encrypted=cipher.encrypt(code, code_id.bytes), wrong_tries=0,
                           expires_at=_now() + CODE_TTL)
    ctx.session.add(row)
    await ctx.session.flush()
    await ctx.audit("identity.code_sent", "identity_verification", verification.id,
                    client_id=verification.client_id, details={"channel": channel, "delivery": delivery})
    return row


@dataclass(frozen=True)
class CodeCheck:
    outcome: str  # verified | wrong | dead | expired | none
    tries_left: int = 0


async def check_code(ctx: ServiceContext, verification_id: uuid.UUID, channel: str, code: str,
                     cipher: FieldCipher) -> CodeCheck:
    """Compare the code with the channel's latest one. A wrong try is counted (the caller commits it even though
    it answers an error); the third kills the code; a code past its 10 minutes is expired."""
    verification = await load_visible(ctx, verification_id, "identity.verify", lock=True)
    _open(verification)
    _step(verification, channel)
    latest = (await ctx.session.execute(select(VerificationCode).where(
        VerificationCode.verification_id == verification.id, VerificationCode.channel == channel)
        .order_by(VerificationCode.created_at.desc()).limit(1).with_for_update())).scalar_one_or_none()
    if latest is None or latest.used_at is not None:
        return CodeCheck("none")
    if latest.wrong_tries >= CODE_WRONG_TRIES:
        return CodeCheck("dead")
    if latest.expires_at <= _now():
        return CodeCheck("expired")
    expected = cipher.decrypt(latest.code_encrypted, latest.id.bytes)
    if not hmac.compare_digest(expected.encode(), code.encode()):
        latest.wrong_tries += 1
        await ctx.audit("identity.code_wrong", "identity_verification", verification.id,
                        client_id=verification.client_id, details={"channel": channel, "try": latest.wrong_tries})
        left = CODE_WRONG_TRIES - latest.wrong_tries
        return CodeCheck("wrong" if left else "dead", left)
    latest.used_at = _now()
    _set_step(verification, channel, "completed", completed_at=_now().isoformat())
    await ctx.audit("identity.step_completed", "identity_verification", verification.id,
                    client_id=verification.client_id, details={"step": channel})
    await _follow(ctx, verification)
    return CodeCheck("verified")


async def code_to_send(ctx: ServiceContext, code_id: uuid.UUID, cipher: FieldCipher
                       ) -> tuple[VerificationCode, Client, str] | None:
    """For the workflow's activity: the code, its client and its plaintext, once (None when sent already)."""
    policy.require(ctx.principal, "identity.workflow")
    row = (await ctx.session.execute(select(VerificationCode).where(VerificationCode.id == code_id)
                                     .with_for_update())).scalar_one_or_none()
    if row is None or row.sent_at is not None:
        return None
    verification = await ctx.session.get(IdentityVerification, row.verification_id)
    if verification.firm_id != ctx.principal.firm_id:
        return None
    client = await ctx.session.get(Client, verification.client_id)
    return row, client, cipher.decrypt(row.code_encrypted, row.id.bytes)


# ---- government ID (Persona) ------------------------------------------------------------------------------------

async def check_government_id(ctx: ServiceContext, verification_id: uuid.UUID) -> IdentityVerification:
    verification = await load_visible(ctx, verification_id, "identity.verify")
    _open(verification)
    if _step(verification, "government_id")["status"] == "completed":
        raise Conflict("The government ID step is completed")
    return verification


async def record_inquiry(ctx: ServiceContext, verification_id: uuid.UUID, inquiry_id: str, url: str,
                         expires_at: datetime) -> IdentityVerification:
    policy.require(ctx.principal, "identity.workflow")
    verification = await ctx.session.get(IdentityVerification, verification_id, with_for_update=True)
    if verification.persona_inquiry_id != inquiry_id:
        verification.persona_inquiry_id, verification.persona_inquiry_url = inquiry_id, url
        verification.persona_expires_at = expires_at
        _set_step(verification, "government_id", "pending", inquiry_id=inquiry_id)
        await ctx.audit("identity.inquiry_created", "identity_verification", verification.id,
                        client_id=verification.client_id, details={"inquiry_id": inquiry_id})
    return verification


async def record_inquiry_outcome(ctx: ServiceContext, inquiry_id: str, event: str,
                                 confidence: Decimal | None) -> IdentityVerification | None:
    """Persona's webhook: completed with a confidence (approve, review or reject by the thresholds), failed, or
    expired (the step may be started again). None for an inquiry of no verification of ours."""
    verification = (await ctx.session.execute(select(IdentityVerification).where(
        IdentityVerification.persona_inquiry_id == inquiry_id).with_for_update())).scalar_one_or_none()
    if verification is None:
        return None
    ctx.bind_to_firm(verification.firm_id)
    if verification.status in FINAL:
        return verification
    if event == "inquiry.completed" and confidence is not None:
        outcome = government_id_outcome(confidence)
        _set_step(verification, "government_id", outcome, confidence=float(confidence))
        verification.confidence_score = confidence
    elif event == "inquiry.completed":
        _set_step(verification, "government_id", "needs_review", confidence=None)
    elif event == "inquiry.failed":
        _set_step(verification, "government_id", "failed")
    else:  # inquiry.expired: the client may start the step again
        _set_step(verification, "government_id", "expired")
        verification.persona_inquiry_url = None
    await ctx.audit("identity.government_id", "identity_verification", verification.id,
                    client_id=verification.client_id, details={"event": event, "inquiry_id": inquiry_id,
                                                               "confidence": str(confidence) if confidence else None})
    await _follow(ctx, verification)
    return verification


# ---- video (tier 3) ---------------------------------------------------------------------------------------------

async def schedule_video(ctx: ServiceContext, verification_id: uuid.UUID, preferred: list[datetime]
                         ) -> tuple[IdentityVerification, Client]:
    """The first preferred time at least an hour ahead becomes the meeting; the invitation goes by mail (.ics)."""
    verification = await load_visible(ctx, verification_id, "identity.verify", lock=True)
    _open(verification)
    _step(verification, "video")
    earliest, latest = _now() + timedelta(hours=1), _now() + VIDEO_HORIZON
    chosen = next((t for t in sorted(preferred) if earliest <= t <= latest), None)
    if chosen is None:
        # A rule about now (docs/api-conventions.md): 422, as the document cannot state it.
        raise BusinessRuleViolation("No preferred time is between an hour and 60 days ahead",
                                    [FieldError("preferred_times", "out_of_range",
                                                "give a time at least an hour and at most 60 days ahead")],
                                    code="out_of_range")
    session_id = uuid.uuid4()
    code = secrets.token_hex(5)
    verification.video_session_id, verification.video_scheduled_time = session_id, chosen
    verification.video_meet_link = f"https://meet.google.com/{code[:3]}-{code[3:7]}-{code[7:]}"
    _set_step(verification, "video", "scheduled", scheduled_time=chosen.isoformat())
    await ctx.audit("identity.video_scheduled", "identity_verification", verification.id,
                    client_id=verification.client_id, details={"scheduled_time": chosen.isoformat()})
    return verification, await ctx.session.get(Client, verification.client_id)


# ---- staff review -----------------------------------------------------------------------------------------------

async def review(ctx: ServiceContext, verification_id: uuid.UUID, step: str, decision: str,
                 notes: str | None) -> IdentityVerification:
    """Staff decide a government ID in manual review (confidence 0.70–0.89) or the outcome of a video call."""
    verification = await load_visible(ctx, verification_id, "identity.review", lock=True)
    _open(verification)
    current = _step(verification, step)
    reviewable = {"government_id": ("needs_review",), "video": ("scheduled",)}.get(step, ())
    if current["status"] not in reviewable:
        raise Conflict(f"The {step} step is {current['status']}: nothing to review")
    _set_step(verification, step, "completed" if decision == "approve" else "failed",
              reviewed_by=str(ctx.principal.subject_id))
    verification.reviewed_by, verification.review_notes = ctx.principal.subject_id, notes
    await ctx.audit("identity.review", "identity_verification", verification.id, client_id=verification.client_id,
                    details={"step": step, "decision": decision, "notes": notes})
    await _follow(ctx, verification)
    return verification


# ---- expiry (the workflow's timer) ------------------------------------------------------------------------------

async def expire(ctx: ServiceContext, verification_id: uuid.UUID) -> str:
    policy.require(ctx.principal, "identity.workflow")
    verification = await ctx.session.get(IdentityVerification, verification_id, with_for_update=True)
    if verification is None or verification.firm_id != ctx.principal.firm_id:
        return "missing"
    if verification.status not in FINAL and verification.status != "needs_review":
        verification.status = "expired"
        verification.steps = [({**s, "status": "expired"} if s["status"] != "completed" else s)
                              for s in verification.steps]
        await ctx.audit("identity.expired", "identity_verification", verification.id,
                        client_id=verification.client_id)
        await _follow(ctx, verification)
    return verification.status
