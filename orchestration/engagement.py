"""The engagement's workflow (EngagementWorkflow, `engagement:<uuid>`, from its send on): its typed client
(orchestration/signing.py holds what it shares with the consent's)."""

from __future__ import annotations

import uuid

from temporalio.client import Client

from orchestration import ids
from orchestration.message import Delivery, OutboxMessage
from orchestration.signing import SendResult, SigningInput, signal_event
from orchestration.signing import send as send_for_signature

WORKFLOW = "Engagement"
ENTITY_TYPE = "engagement"
EVENT = "engagement.event"  # payload: SignatureEvent


async def send(client: Client, engagement, signature_days: int) -> SendResult | None:
    return await send_for_signature(client, WORKFLOW, ids.engagement(engagement.id), SigningInput(
        subject_type="engagement", subject_id=engagement.id, firm_id=engagement.firm_id,
        client_id=engagement.client_id, signature_days=signature_days))


def event(engagement_id: uuid.UUID, kind: str) -> OutboxMessage:
    return OutboxMessage(EVENT, ENTITY_TYPE, str(engagement_id), {"kind": kind})


async def _deliver_event(delivery: Delivery, entity_id: str, payload: dict) -> None:
    await signal_event(delivery.temporal, ids.engagement(uuid.UUID(entity_id)), payload)


HANDLERS = {EVENT: _deliver_event}
