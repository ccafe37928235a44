"""IdentityVerificationWorkflow's activities: send a one-time code (mail, or the SMS gateway by text or voice),
create the Persona inquiry of the government ID step, and expire the verification. Results are written through
domain/identity/service.py under `ServiceContext.for_system`."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.errors import DomainError
from domain.identity import service as identity
from domain.identity.models import IdentityVerification
from integrations.notify import Notification, Recipient
from integrations.providers import IdentityProvider, Notifications, SmsGateway
from orchestration.identity import CodeRef, InquiryLink, VerificationRef

SOURCE = "identity_verification"


def _system(session: AsyncSession, firm_id: uuid.UUID) -> ServiceContext:
    return ServiceContext.for_system(session, firm_id, SOURCE)


def _off(method: str, setting: str) -> DomainError:
    return DomainError(f"The {method} method is not configured ({setting})", [], 503, "identity_method_unavailable",
                       "Identity Method Unavailable")


class IdentityActivities:
    def __init__(self, sessionmaker, notifications: Notifications, sms: SmsGateway | None,
                 persona: IdentityProvider | None, cipher: FieldCipher):
        self.sessionmaker, self.notifications, self.sms, self.persona, self.cipher = (
            sessionmaker, notifications, sms, persona, cipher)

    @activity.defn(name="identity.send_code")
    async def send_code(self, ref: CodeRef) -> bool:
        """Send the code once: it is marked sent in the transaction that holds its row locked while it goes out
        (a failed send rolls the mark back for the retry; the SMS gateway's idempotency key keeps a retried text
        single)."""
        async with self.sessionmaker.begin() as session:
            found = await identity.code_to_send(_system(session, ref.firm_id), ref.code_id, self.cipher)
            if found is None:
                return False
            row, client, code = found
            text = f"Your verification code is {code}. It is valid for 10 minutes; never share it."
            if row.channel == "email":
                await self.notifications.send(Recipient(email=client.email), Notification(
                    subject="Your identity verification code", text=f"{text}\n", sms_text=text))
            else:
                if self.sms is None:
                    raise _off("phone", "SMS_GATEWAY_URL")
                await self.sms.send(client.phone, text, row.delivery, idempotency_key=f"identity-code:{row.id}")
            row.sent_at = datetime.now(timezone.utc)
        return True

    @activity.defn(name="identity.create_inquiry")
    async def create_inquiry(self, ref: VerificationRef) -> InquiryLink:
        """The inquiry of the government ID step: the current one while it is live, else a new one (one per
        expired predecessor: the idempotency key names it)."""
        if self.persona is None:
            raise _off("government_id", "PERSONA_API_URL")
        async with self.sessionmaker() as session:
            verification = await session.get(IdentityVerification, ref.verification_id)
            step = next(s for s in verification.steps if s["step"] == "government_id")
            live = (verification.persona_inquiry_url and step["status"] == "pending"
                    and verification.persona_expires_at > datetime.now(timezone.utc))
            if live:
                return InquiryLink(persona_inquiry_url=verification.persona_inquiry_url,
                                   expires_at=verification.persona_expires_at)
            previous = verification.persona_inquiry_id or "first"
        inquiry = await self.persona.create_inquiry(str(ref.verification_id),
                                                    idempotency_key=f"inquiry:{ref.verification_id}:{previous}")
        async with self.sessionmaker.begin() as session:
            await identity.record_inquiry(_system(session, ref.firm_id), ref.verification_id, inquiry.inquiry_id,
                                          inquiry.url, inquiry.expires_at)
        return InquiryLink(persona_inquiry_url=inquiry.url, expires_at=inquiry.expires_at)

    @activity.defn(name="identity.expire")
    async def expire(self, ref: VerificationRef) -> str:
        async with self.sessionmaker.begin() as session:
            return await identity.expire(_system(session, ref.firm_id), ref.verification_id)
