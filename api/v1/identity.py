"""Identity verification (spec §12): initiate at a tier with methods, answer email and phone codes, verify a
government ID through Persona, schedule a video call (tier 3), and staff review. The verification's workflow
sends the codes, creates the Persona inquiry and expires the verification (orchestration/identity.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi import APIRouter

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, answers
from api.schemas.identity import (
    CodeRequest, CodeSent, GovernmentIdInquiry, InitiateRequest, PhoneSendRequest, ReviewRequest, Verification,
    VideoScheduled, VideoScheduleRequest,
)
from domain.client.models import Client
from domain.errors import BusinessRuleViolation, FieldError, ServiceUnavailable
from domain.identity import service
from domain.identity.calendar import invitation
from domain.identity.models import IdentityVerification, VerificationCode
from orchestration import identity as workflow
from orchestration.mail import mail

router = APIRouter(route_class=JSONRoute, tags=["identity verification"])

CODE_REFUSALS = {
    "wrong": ("code_invalid", "The code is wrong"),
    "dead": ("code_dead", "The code was guessed wrong three times and no longer works: ask for a new one"),
    "expired": ("code_expired", "The code has expired (10 minutes): ask for a new one"),
    "none": ("code_missing", "No code is waiting for this step: ask for one"),
}


async def verification_out(ctx, v: IdentityVerification) -> dict:
    client = await ctx.session.get(Client, v.client_id)
    return {
        "verification_id": str(v.id), "client_id": str(v.client_id), "tier": v.tier, "status": v.status,
        "current_step": service.current_step(v),
        "confidence_score": float(v.confidence_score) if v.confidence_score is not None else None,
        "steps": v.steps, "expires_at": v.expires_at, "completed_at": v.completed_at,
        "client_identity_verification_status": client.identity_verification_status,
    }


def _finished(v: IdentityVerification) -> list:
    return [workflow.finished(v.id)] if v.status in ("completed", "failed") else []


def _code_sent(code: VerificationCode) -> dict:
    return {"sent": True, "channel": code.channel, "delivery": code.delivery, "expires_at": code.expires_at}


@router.post("/clients/{client_id}/identity/verify", summary="Initiate an identity verification",
             operation_id="initiate_identity_verification",
             **answers(One(Verification), 403, 404, 422, status=201))
async def initiate(client_id: uuid.UUID, body: InitiateRequest, ctx: Ctx, state: State):
    """Tier 1: email and/or phone codes; tier 2 adds a government ID (Persona); tier 3 adds a video call. An email
    code is sent at once; a phone code on `POST /identity/{id}/phone/send`."""
    v = await service.initiate(ctx, client_id, body.tier, body.methods)
    messages = [workflow.started(v)]
    if "email" in body.methods:
        code = await service.new_code(ctx, v.id, "email", "email", state.cipher)
        messages.append(workflow.send_code(v.id, code.id))
    answer = envelope.one(await verification_out(ctx, v))
    await state.outbox.commit_and_send(ctx.session, *messages)
    return answer


@router.get("/identity/{verification_id}", summary="Get a verification", operation_id="get_identity_verification",
            **answers(One(Verification), 403, 404))
async def get_verification(verification_id: uuid.UUID, ctx: Ctx):
    return envelope.one(await verification_out(ctx, await service.load_visible(ctx, verification_id)))


async def _send(ctx, state, verification_id: uuid.UUID, channel: str, delivery: str) -> dict:
    code = await service.new_code(ctx, verification_id, channel, delivery, state.cipher)
    answer = envelope.one(_code_sent(code))
    await state.outbox.commit_and_send(ctx.session, workflow.send_code(verification_id, code.id))
    return answer


@router.post("/identity/{verification_id}/email/send", summary="Send a new email code",
             operation_id="send_identity_email_code", **answers(One(CodeSent), 403, 404, 409, 422, status=202))
async def send_email_code(verification_id: uuid.UUID, ctx: Ctx, state: State):
    """At most 3 codes an hour; each is valid 10 minutes and replaces the one before."""
    return await _send(ctx, state, verification_id, "email", "email")


@router.post("/identity/{verification_id}/phone/send", summary="Send a phone code (SMS or voice)",
             operation_id="send_identity_phone_code", **answers(One(CodeSent), 403, 404, 409, 422, status=202))
async def send_phone_code(verification_id: uuid.UUID, body: PhoneSendRequest, ctx: Ctx, state: State):
    if not state.settings.sms_gateway_url:
        raise ServiceUnavailable("Phone verification is not configured (SMS_GATEWAY_URL)")
    return await _send(ctx, state, verification_id, "phone", body.method)


async def _verify(ctx, state, verification_id: uuid.UUID, channel: str, code: str) -> dict:
    result = await service.check_code(ctx, verification_id, channel, code, state.cipher)
    if result.outcome != "verified":
        # The wrong try counts even though the answer is an error: committed first.
        await state.outbox.commit_and_send(ctx.session)
        name, detail = CODE_REFUSALS[result.outcome]
        if result.outcome == "wrong":
            detail += f" ({result.tries_left} {'try' if result.tries_left == 1 else 'tries'} left)"
        raise BusinessRuleViolation(detail, [FieldError("code", name, detail)], code=name)
    v = await service.load_visible(ctx, verification_id)
    answer = envelope.one(await verification_out(ctx, v))
    await state.outbox.commit_and_send(ctx.session, *_finished(v))
    return answer


@router.post("/identity/{verification_id}/email/verify", summary="Verify the email code",
             operation_id="verify_identity_email_code", **answers(One(Verification), 403, 404, 409, 422))
async def verify_email(verification_id: uuid.UUID, body: CodeRequest, ctx: Ctx, state: State):
    """422 `code_invalid` (tries left), `code_dead` (third wrong try), `code_expired`, `code_missing`."""
    return await _verify(ctx, state, verification_id, "email", body.code)


@router.post("/identity/{verification_id}/phone/verify", summary="Verify the phone code",
             operation_id="verify_identity_phone_code", **answers(One(Verification), 403, 404, 409, 422))
async def verify_phone(verification_id: uuid.UUID, body: CodeRequest, ctx: Ctx, state: State):
    return await _verify(ctx, state, verification_id, "phone", body.code)


@router.post("/identity/{verification_id}/government-id", summary="Start the government ID check (Persona)",
             operation_id="start_identity_government_id", **answers(One(GovernmentIdInquiry), 403, 404, 409, 422))
async def government_id(verification_id: uuid.UUID, ctx: Ctx, state: State):
    """The hosted Persona flow's link; a pending inquiry expires after 24 hours (then this gives a new one)."""
    if not state.settings.persona_api_url:
        raise ServiceUnavailable("Government ID verification is not configured (PERSONA_API_URL)")
    v = await service.check_government_id(ctx, verification_id)
    await ctx.session.commit()  # nothing held while the workflow talks to Persona
    link = await workflow.government_id(await state.temporal(), v)
    return envelope.one(link.model_dump())


@router.post("/identity/{verification_id}/video/schedule", summary="Schedule the video verification (tier 3)",
             operation_id="schedule_identity_video", **answers(One(VideoScheduled), 403, 404, 409, 422))
async def schedule_video(verification_id: uuid.UUID, body: VideoScheduleRequest, ctx: Ctx, state: State):
    """The first preferred time at least an hour ahead; the client gets the meeting link and a calendar
    invitation (.ics) by mail."""
    v, client = await service.schedule_video(ctx, verification_id, body.preferred_times)
    messages = []
    if client.email:
        ics = invitation(v.video_session_id, v.video_scheduled_time, timedelta(minutes=30),
                         "Identity verification video call", v.video_meet_link, state.settings.mail_from,
                         client.email)
        messages.append(mail(client.email, "Your identity verification video call",
                             f"Your video call is booked for {v.video_scheduled_time.isoformat()} (UTC).\n"
                             f"Join: {v.video_meet_link}\nHave your government ID with you.\n",
                             about=f"identity_verification:{v.id}",
                             attachment=("invite.ics", "text/calendar", ics)))
    answer = envelope.one({"session_id": str(v.video_session_id), "scheduled_time": v.video_scheduled_time,
                           "meet_link": v.video_meet_link, "calendar_invite_sent": bool(messages)})
    await state.outbox.commit_and_send(ctx.session, *messages)
    return answer


@router.post("/identity/{verification_id}/review",
             summary="Decide a manual review or a video call (admin, EA/CPA, reviewer)",
             operation_id="review_identity_verification", **answers(One(Verification), 403, 404, 409))
async def review(verification_id: uuid.UUID, body: ReviewRequest, ctx: Ctx, state: State):
    v = await service.review(ctx, verification_id, body.step, body.decision, body.notes)
    answer = envelope.one(await verification_out(ctx, v))
    await state.outbox.commit_and_send(ctx.session, *_finished(v))
    return answer
