"""The consent's workflow (ConsentWorkflow, `consent:<uuid>`, from its send on): its typed client
(orchestration/signing.py holds what it shares with the engagement's)."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from orchestration import ids
from orchestration.message import Delivery, OutboxMessage
from orchestration.signing import SendResult, SigningInput, signal_event
from orchestration.signing import send as send_for_signature

WORKFLOW = "Consent"
ENTITY_TYPE = "consent"
EVENT = "consent.event"  # payload: SignatureEvent


async def send(client: Client, consent) -> SendResult | None:
    return await send_for_signature(client, WORKFLOW, ids.consent(consent.id), SigningInput(
        subject_type="consent", subject_id=consent.id, firm_id=consent.firm_id, client_id=consent.client_id))


def event(consent_id: uuid.UUID, kind: str) -> OutboxMessage:
    return OutboxMessage(EVENT, ENTITY_TYPE, str(consent_id), {"kind": kind})


async def _deliver_event(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await signal_event(delivery.temporal, ids.consent(uuid.UUID(entity_id)), payload)


HANDLERS = {EVENT: _deliver_event}
