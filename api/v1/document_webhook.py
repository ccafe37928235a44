"""Inbound webhooks of the document integrations (spec §13.1): SurePrep and SmartVault.

Authenticated by an HMAC signature over the raw body (401 without a valid one, nothing recorded). A signed body
that is not an event we can read or store (domain/webhook_body.py, `parse_event`) is a 400, nothing recorded. Every
other authenticated event is recorded once with its outcome and answered 200 — a replay answers `duplicate`, a
refused event `rejected`/`stale` with the reason — so the sender stops retrying what can never apply.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from fastapi import APIRouter, Request

from api.deps import State
from domain.document import webhook
from domain.errors import Unauthorized
from domain.webhook_body import parse_json
from integrations.webhook_hmac import hmac_valid
from orchestration import document as document_workflow
from orchestration import outbox

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)


async def _event(request: Request, secret: str, header: str) -> webhook.Event:
    body = await request.body()
    if not hmac_valid(secret, request.headers.get(header), body):
        raise Unauthorized("Invalid or missing webhook signature")
    return webhook.parse_event(parse_json(body))


def _answer(outcome: webhook.Outcome) -> dict:
    return {"received": True, "outcome": outcome.outcome, "reason": outcome.reason}


@router.post("/webhooks/sureprep", summary="SurePrep webhook")
async def sureprep_webhook(request: Request, state: State):
    """binder.submitted, binder.processing_complete, binder.verification_complete, document.uploaded,
    extraction.ready (the fields land on the document's extraction). Signed with X-SurePrep-Signature."""
    event = await _event(request, state.settings.sureprep_webhook_secret, "x-sureprep-signature")
    async with state.sessionmaker.begin() as session:
        outcome = await webhook.apply_sureprep(session, event,
                                               Decimal(str(state.settings.extraction_review_threshold)))
    return _answer(outcome)


@router.post("/webhooks/smartvault", summary="SmartVault webhook")
async def smartvault_webhook(request: Request, state: State):
    """document.uploaded imports the file into the pending (upload-first) queue; folder.created is
    acknowledged. Signed with X-SmartVault-Signature."""
    event = await _event(request, state.settings.smartvault_webhook_secret, "x-smartvault-signature")
    pending = []
    async with state.sessionmaker.begin() as session:
        outcome = await webhook.apply_smartvault(session, event)
        if outcome.follow_up:  # the import starts with the event's record: after the commit, or from the relay
            job = document_workflow.SmartVaultImportInput(**outcome.follow_up)
            pending.append(await outbox.add(session, document_workflow.smartvault_import_requested(job)))
    await state.outbox.send(*pending)
    return _answer(outcome)
