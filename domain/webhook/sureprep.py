"""SurePrep's effect (spec §13.1), applied once (domain/webhook/ledger.py) in the transaction that records the
event: applied, or refused with the reason (unknown binder, unknown document, stale).

Ordering: binder statuses only move forward in time (an event older than the binder's last one is recorded as
stale); extraction results are keyed to our document id (SurePrep's external_reference), so they apply even when
they overtake our own record of the upload.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.context import ServiceContext
from domain.document.extraction import FORMS
from domain.document.models import Document, DocumentExtraction, ExtractedField, SurePrepBinder
from domain.document.service import current_extraction, record_status, refresh_extraction_status
from domain.webhook.ledger import Applied, Delivery

SOURCE = "sureprep"
BINDER_STATUSES = {"binder.submitted": "submitted", "binder.processing_complete": "processing_complete",
                   "binder.verification_complete": "verification_complete"}


def _field_name(document_type: str | None, label: str) -> str | None:
    for spec in FORMS.get(document_type or "", []):
        if spec.kind == "money" and re.search(spec.label, label.lower()):
            return spec.name
    return None


async def apply(session: AsyncSession, event: Delivery, threshold: Decimal) -> Applied[None]:
    data = event.payload["data"]
    binder = (await session.execute(select(SurePrepBinder).where(
        SurePrepBinder.external_binder_id == str(data.get("binder_id"))).with_for_update())).scalar_one_or_none()
    if binder is None:
        return Applied("rejected", "unknown binder")
    if event.event_type in BINDER_STATUSES:
        if binder.last_event_at is not None and event.occurred_at < binder.last_event_at:
            return Applied("stale", "older than the binder's last event", firm_id=binder.firm_id)
        binder.status, binder.last_event_at = BINDER_STATUSES[event.event_type], event.occurred_at
        return Applied("applied", firm_id=binder.firm_id)
    if event.event_type == "document.uploaded":
        return Applied("ignored", "acknowledgement only", firm_id=binder.firm_id)
    if event.event_type != "extraction.ready":
        return Applied("ignored", f"event type {event.event_type} is not handled", firm_id=binder.firm_id)

    try:
        document_id = uuid.UUID(str(data.get("external_reference")))
    except ValueError:
        return Applied("rejected", "external_reference is not one of our documents", firm_id=binder.firm_id)
    document = await session.get(Document, document_id, with_for_update=True)
    if (document is None or document.firm_id != binder.firm_id or document.client_id != binder.client_id
            or document.deleted_at is not None):
        return Applied("rejected", "unknown document for this binder", firm_id=binder.firm_id)
    fields = data.get("fields")
    if not isinstance(fields, list):
        return Applied("rejected", "fields missing", firm_id=binder.firm_id)
    applied = await _merge_fields(session, document, fields, threshold)
    await ServiceContext.for_system(session, document.firm_id, SOURCE).audit(
        "extraction.sureprep_fields", "document", document.id, client_id=document.client_id,
        details={"event_id": event.event_id, "fields": applied})
    return Applied("applied", firm_id=binder.firm_id)


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
        record_status(session, document, "processed", event="sureprep.extraction")
        document.review_reason = None
    return applied
