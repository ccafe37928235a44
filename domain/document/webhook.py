"""Inbound SurePrep and SmartVault webhooks (spec §13.1): each event is recorded once, by (provider, event id),
in the same transaction as its effect, with its outcome: applied, or refused with the reason (unknown binder,
unknown document, unknown account, stale). A replay finds the row and changes nothing.

Ordering: SurePrep binder statuses only move forward in time (an event older than the binder's last one is
recorded as stale); extraction results are keyed to our document id (SurePrep's external_reference), so they
apply even when they overtake our own record of the upload.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.models import AuditEntry
from domain.document.extraction import FORMS
from domain.document.models import (
    Document, DocumentExtraction, DocumentStatusHistory, ExtractedField, IntegrationAccount, SurePrepBinder,
    WebhookEvent,
)
from domain.document.service import current_extraction, refresh_extraction_status
from domain.errors import FieldError, ValidationFailed
from domain.webhook_body import unix_time

BINDER_STATUSES = {"binder.submitted": "submitted", "binder.processing_complete": "processing_complete",
                   "binder.verification_complete": "verification_complete"}


@dataclass
class Event:
    id: str
    type: str
    created: datetime
    data: dict
    raw: dict


@dataclass
class Outcome:
    outcome: str  # applied | duplicate | rejected | stale | ignored
    reason: str | None = None
    follow_up: dict | None = None  # work to start once committed (a SmartVault import)


def parse_event(payload: object) -> Event:
    if not (isinstance(payload, dict) and isinstance(payload.get("id"), str) and isinstance(payload.get("type"), str)
            and isinstance(payload.get("created"), int) and isinstance(payload.get("data"), dict)
            and 0 < len(payload["id"]) <= 100 and len(payload["type"]) <= 60):
        raise ValidationFailed("Not a webhook event", [FieldError("body", "invalid_format",
                                                                  "expected {id, type, created, data}")])
    created = unix_time(payload["created"])
    if created is None:
        # Binder events are ordered by this instant, so an event without a real one cannot be placed.
        raise ValidationFailed("The event's created time is out of range",
                               [FieldError("created", "out_of_range", "Unix seconds from 1970 to 9999")])
    return Event(payload["id"], payload["type"], created, payload["data"], payload)


async def claim(session: AsyncSession, provider: str, event: Event) -> WebhookEvent | None:
    """The event's row, new; None when this event id was seen before (a replay)."""
    row_id = (await session.execute(insert(WebhookEvent).values(
        id=uuid.uuid4(), provider=provider, event_id=event.id, event_type=event.type, occurred_at=event.created,
        outcome="received", payload=event.raw,
    ).on_conflict_do_nothing(constraint="uq_webhook_events_provider_event").returning(WebhookEvent.id))).scalar()
    return await session.get(WebhookEvent, row_id) if row_id else None


def _settle(row: WebhookEvent, outcome: Outcome, firm_id: uuid.UUID | None = None) -> Outcome:
    row.outcome, row.reason, row.firm_id = outcome.outcome, outcome.reason, firm_id or row.firm_id
    return outcome


# ---- SurePrep -------------------------------------------------------------------------------------------------

def _field_name(document_type: str | None, label: str) -> str | None:
    for spec in FORMS.get(document_type or "", []):
        if spec.kind == "money" and re.search(spec.label, label.lower()):
            return spec.name
    return None


async def apply_sureprep(session: AsyncSession, event: Event, threshold: Decimal) -> Outcome:
    row = await claim(session, "sureprep", event)
    if row is None:
        return Outcome("duplicate")
    binder = (await session.execute(select(SurePrepBinder).where(
        SurePrepBinder.external_binder_id == str(event.data.get("binder_id"))).with_for_update())).scalar_one_or_none()
    if binder is None:
        return _settle(row, Outcome("rejected", "unknown binder"))
    if event.type in BINDER_STATUSES:
        if binder.last_event_at is not None and event.created < binder.last_event_at:
            return _settle(row, Outcome("stale", "older than the binder's last event"), binder.firm_id)
        binder.status, binder.last_event_at = BINDER_STATUSES[event.type], event.created
        return _settle(row, Outcome("applied"), binder.firm_id)
    if event.type == "document.uploaded":
        return _settle(row, Outcome("ignored", "acknowledgement only"), binder.firm_id)
    if event.type != "extraction.ready":
        return _settle(row, Outcome("ignored", f"event type {event.type} is not handled"), binder.firm_id)

    try:
        document_id = uuid.UUID(str(event.data.get("external_reference")))
    except ValueError:
        return _settle(row, Outcome("rejected", "external_reference is not one of our documents"), binder.firm_id)
    document = await session.get(Document, document_id, with_for_update=True)
    if (document is None or document.firm_id != binder.firm_id or document.client_id != binder.client_id
            or document.deleted_at is not None):
        return _settle(row, Outcome("rejected", "unknown document for this binder"), binder.firm_id)
    fields = event.data.get("fields")
    if not isinstance(fields, list):
        return _settle(row, Outcome("rejected", "fields missing"), binder.firm_id)
    applied = await _merge_fields(session, document, fields, threshold)
    session.add(AuditEntry(firm_id=document.firm_id, actor_id=None, actor_role="system",
                           action="extraction.sureprep_fields", resource_type="document",
                           resource_id=str(document.id), client_id=document.client_id,
                           details={"event_id": event.id, "fields": applied}))
    return _settle(row, Outcome("applied"), binder.firm_id)


async def _merge_fields(session: AsyncSession, document: Document, incoming: list, threshold: Decimal) -> list[str]:
    """SurePrep's values land as fields: new ones are added; an existing one is replaced when SurePrep is at
    least as confident, unless a person corrected or verified it (people win)."""
    extraction, fields = await current_extraction(session, document.id)
    if extraction is None:
        extraction = DocumentExtraction(id=uuid.uuid4(), document_id=document.id, status="extracted",
                                        source="sureprep")
        session.add(extraction)
        await session.flush()
    by_name = {f.field_name: f for f in fields}
    applied = []
    for item in incoming:
        if not isinstance(item, dict):
            continue
        name = _field_name(document.document_type, str(item.get("label", "")))
        try:
            value = str(Decimal(str(item.get("value"))).quantize(Decimal("0.01")))
            confidence = Decimal(str(item.get("confidence"))).quantize(Decimal("0.001"))
        except (ArithmeticError, ValueError):
            continue
        if name is None or not Decimal(0) <= confidence <= Decimal(1):
            continue
        existing = by_name.get(name)
        if existing is not None and (existing.verified or existing.corrected_at is not None
                                     or existing.confidence > confidence):
            continue
        if existing is None:
            existing = ExtractedField(extraction_id=extraction.id, field_name=name, position=len(by_name))
            session.add(existing)
            by_name[name] = existing
            fields.append(existing)
        existing.value, existing.confidence, existing.source = value, confidence, "sureprep"
        existing.needs_review = confidence < threshold
        applied.append(name)
    refresh_extraction_status(extraction, fields)
    if fields:
        extraction.overall_confidence = (sum(f.confidence for f in fields) / len(fields)).quantize(Decimal("0.001"))
        document.extraction_confidence = extraction.overall_confidence
    if document.status == "review_required" and extraction.status in ("extracted", "verified"):
        session.add(DocumentStatusHistory(document_id=document.id, from_status=document.status,
                                          to_status="processed", event="sureprep.extraction"))
        document.status, document.review_reason = "processed", None
    return applied


# ---- SmartVault -----------------------------------------------------------------------------------------------

async def apply_smartvault(session: AsyncSession, event: Event) -> Outcome:
    row = await claim(session, "smartvault", event)
    if row is None:
        return Outcome("duplicate")
    account_id = str(event.data.get("account_id", ""))
    firm_id = (await session.execute(select(IntegrationAccount.firm_id).where(
        IntegrationAccount.provider == "smartvault", IntegrationAccount.account_id == account_id))).scalar()
    if firm_id is None:
        return _settle(row, Outcome("rejected", "unknown SmartVault account"))
    if event.type == "folder.created":
        return _settle(row, Outcome("ignored", "folders need no action"), firm_id)
    if event.type != "document.uploaded":
        return _settle(row, Outcome("ignored", f"event type {event.type} is not handled"), firm_id)
    document_id, name = event.data.get("document_id"), event.data.get("name")
    if not isinstance(document_id, str) or not document_id or not isinstance(name, str):
        return _settle(row, Outcome("rejected", "document_id and name are required"), firm_id)
    return _settle(row, Outcome("applied", follow_up={
        "firm_id": str(firm_id), "account_id": account_id, "document_id": document_id[:100], "name": name[:255],
        "folder": str(event.data.get("folder") or "")[:100]}), firm_id)
