"""E-filing (spec §11): transmissions of a return per jurisdiction, their acknowledgements and rejections.

Staff transmit (guards below) and resubmit after a correction; EfileTransmissionWorkflow does the rest through
the system actor (`ServiceContext.for_system`): marks a submission transmitted, records the acknowledgement
(which the e-file webhook may have recorded first: one row per Submission ID), retries a technical rejection
under a new Submission ID, denies the states of a rejected federal return, escalates and runs the perfection
period. Every change writes an audit row.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from domain import policy
from domain.client.models import Client
from domain.context import ServiceContext
from domain.event.record import record_event
from domain.document.models import Document
from domain.document.types import ESIGN_SOURCE
from domain.efile import rules
from domain.efile.models import EfileAcknowledgement, EfileRejection, EfileTransmission
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, ValidationFailed
from domain.tax_return.models import TaxReturn
from domain.tax_return.service import load_visible_return
from domain.webhook.redaction import redact

# A transmission's statuses (docs/efile.md, Records); the live ones hold the jurisdiction's one slot.
STATUSES = ("pending", "transmitting", "transmitted", "accepted", "rejected", "denied_by_irs")
LIVE = STATUSES[:3]
# The client's identity_verification_status that lets a remotely signed 8879 go (domain/identity/).
IDENTITY_VERIFIED = "verified"
# Documents whose processing is not finished: a return with one of them is not complete.
UNFINISHED_DOCUMENT = ("uploaded", "classifying", "extracting")


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---- Form 8879 --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Form8879OnFile:
    document_id: uuid.UUID
    on_file_since: datetime
    signed_remotely: bool


async def signed_form_8879(session: AsyncSession, return_id: uuid.UUID,
                           since: datetime | None = None) -> Form8879OnFile | None:
    """The latest signed Form 8879 of the return (a `FORM_8879` document linked to it, not deleted), and whether
    it was signed remotely (the e-signature capability stored it: source `esign`; one staff uploaded was signed in
    person); with `since`, only one
    put on file after that instant (a new 8879 for a resubmission beyond the tolerance)."""
    stmt = (select(Document).where(Document.return_id == return_id, Document.deleted_at.is_(None),
                                   (Document.document_type == "FORM_8879") | (Document.type_hint == "FORM_8879"))
            .order_by(Document.uploaded_at.desc(), Document.id.desc()).limit(1))
    if since is not None:
        stmt = stmt.where(Document.uploaded_at > since)
    document = (await session.execute(stmt)).scalar_one_or_none()
    if document is None or document.document_type not in (None, "FORM_8879"):
        return None
    return Form8879OnFile(document.id, document.uploaded_at, document.source == ESIGN_SOURCE)


# ---- reading ----------------------------------------------------------------------------------------------------

async def list_transmissions(ctx: ServiceContext, return_id: uuid.UUID) -> list[EfileTransmission]:
    policy.require(ctx.principal, "efile.read")
    tax_return, _ = await load_visible_return(ctx, return_id)
    return list((await ctx.session.execute(
        select(EfileTransmission).where(EfileTransmission.return_id == tax_return.id)
        .order_by(EfileTransmission.created_at, EfileTransmission.jurisdiction, EfileTransmission.id))).scalars())


async def get_transmission(ctx: ServiceContext, return_id: uuid.UUID, transmission_id: uuid.UUID,
                           lock: bool = False) -> tuple[EfileTransmission, EfileAcknowledgement | None]:
    policy.require(ctx.principal, "efile.read")
    tax_return, _ = await load_visible_return(ctx, return_id)
    stmt = select(EfileTransmission).where(EfileTransmission.id == transmission_id,
                                           EfileTransmission.return_id == tax_return.id)
    transmission = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if transmission is None:
        raise NotFound("Transmission")
    ack = (await ctx.session.execute(select(EfileAcknowledgement).where(
        EfileAcknowledgement.submission_id == transmission.submission_id))).scalar_one_or_none()
    return transmission, ack


async def rejections(session: AsyncSession, transmission_id: uuid.UUID) -> list[EfileRejection]:
    """Every rejection of the transmission, over all its Submission IDs (technical retries included)."""
    return list((await session.execute(select(EfileRejection).where(
        EfileRejection.transmission_id == transmission_id)
        .order_by(EfileRejection.created_at, EfileRejection.error_code))).scalars())


# ---- transmitting -----------------------------------------------------------------------------------------------

async def _check_guards(session: AsyncSession, tax_return: TaxReturn, client: Client,
                        new_8879_since: datetime | None = None, statuses: tuple[str, ...] = ("ready_to_file",)
                        ) -> None:
    """Spec §11.3's guards, each a 422 naming its reason."""
    if tax_return.status not in statuses:
        raise BusinessRuleViolation(
            f"The return is {tax_return.status}; it must be {' or '.join(statuses)} to be transmitted",
            [FieldError("status", "return_not_ready_to_file", tax_return.status)], code="return_not_ready_to_file")
    form = await signed_form_8879(session, tax_return.id, since=new_8879_since)
    if form is None:
        detail = ("A new signed Form 8879 is needed: the correction changes the return beyond the IRS tolerance "
                  "($50 of income or AGI, $14 of tax)" if new_8879_since else "No signed Form 8879 is on file")
        raise BusinessRuleViolation(detail, [FieldError("form_8879", "form_8879_missing", detail)],
                                    code="form_8879_missing")
    if form.signed_remotely and client.identity_verification_status != IDENTITY_VERIFIED:
        raise BusinessRuleViolation(
            "The Form 8879 was signed remotely and the client's identity is not verified",
            [FieldError("identity_verification_status", "identity_not_verified",
                        client.identity_verification_status)], code="identity_not_verified")
    unfinished = (await session.execute(select(Document.id).where(
        Document.return_id == tax_return.id, Document.deleted_at.is_(None),
        Document.status.in_(UNFINISHED_DOCUMENT)).limit(1))).first()
    if unfinished is not None:
        raise BusinessRuleViolation(
            "A document of the return is still being processed: the return's forms are not complete",
            [FieldError("documents", "forms_incomplete", str(unfinished[0]))], code="forms_incomplete")


def _jurisdictions(requested: list[str]) -> list[str]:
    seen: list[str] = []
    for value in requested:
        if value != rules.FEDERAL and value not in rules.STATES:
            raise ValidationFailed("Unknown jurisdiction", [FieldError("jurisdictions", "invalid_value", value)])
        if value not in seen:
            seen.append(value)
    if rules.FEDERAL not in seen:
        # A state submission is linked to the federal one and waits for its acceptance (MeF "fed/state").
        raise ValidationFailed("A state return is transmitted with its federal return",
                               [FieldError("jurisdictions", "federal_required", "include \"federal\"")])
    return [rules.FEDERAL] + sorted(j for j in seen if j != rules.FEDERAL)


async def _new_submission_id(session: AsyncSession, efin: str, on: date) -> str:
    # A Postgres sequence, not the numbering table's gapless counter: that counter's row lock, held to the end of
    # each transmit's transaction, queued every concurrent transmit behind one row (bench/bench_efile.py). MeF
    # needs the IDs unique, not gapless; the unique key on submission_id is the last word.
    value = (await session.execute(text("SELECT nextval('efile_submission_sequence')"))).scalar_one()
    return rules.submission_id(efin, on, value % (rules.SEQUENCE_SPACE - 1) + 1)


def _audit_details(t: EfileTransmission, **more) -> dict:
    return {"jurisdiction": t.jurisdiction, "submission_id": t.submission_id, "status": t.status, **more}


async def transmit(ctx: ServiceContext, return_id: uuid.UUID, jurisdictions: list[str], figures: dict,
                   efin: str) -> list[EfileTransmission]:
    """New transmissions, one per jurisdiction: the federal one `transmitting`, each state `pending` until the
    federal is accepted. The caller commits them with their workflows' start messages."""
    policy.require(ctx.principal, "efile.transmit")
    wanted = _jurisdictions(jurisdictions)
    tax_return, client = await load_visible_return(ctx, return_id)
    tax_return = await ctx.session.get(TaxReturn, tax_return.id, with_for_update=True, populate_existing=True)
    await _check_guards(ctx.session, tax_return, client)
    live = (await ctx.session.execute(select(EfileTransmission.jurisdiction).where(
        EfileTransmission.return_id == tax_return.id, EfileTransmission.status.in_(LIVE)))).scalars().all()
    if live:
        raise Conflict(f"A transmission of this return is under way ({', '.join(sorted(live))})")
    today = _now().date()
    created: list[EfileTransmission] = []
    federal_id = None
    for jurisdiction in wanted:
        row = EfileTransmission(
            id=uuid.uuid4(), firm_id=tax_return.firm_id, client_id=tax_return.client_id, return_id=tax_return.id,
            jurisdiction=jurisdiction, transmission_type="original",
            submission_id=await _new_submission_id(ctx.session, efin, today),
            status="transmitting" if jurisdiction == rules.FEDERAL else "pending",
            federal_transmission_id=federal_id, attempts=1, figures=figures, filing_date_kept=False,
            paper_filing_required=False, created_by=ctx.principal.subject_id)
        ctx.session.add(row)
        if jurisdiction == rules.FEDERAL:
            federal_id = row.id
            await ctx.session.flush()
        created.append(row)
    await ctx.session.flush()
    for row in created:
        await ctx.audit("efile.transmit", "efile_transmission", row.id, client_id=row.client_id,
                        details=_audit_details(row, return_id=str(tax_return.id)))
    return created


@dataclass(frozen=True)
class Resubmission:
    transmissions: list[EfileTransmission]  # the resubmitted one first, then any denied state queued again
    filing_date_kept: bool
    beyond_tolerance: list[str]


async def resubmit(ctx: ServiceContext, return_id: uuid.UUID, transmission_id: uuid.UUID, notes: str | None,
                   figures: dict | None, efin: str) -> Resubmission:
    """A new Submission ID for a rejected transmission after correction, linked to it. Beyond Pub 1345's
    tolerance a signed 8879 newer than the rejected submission is needed (422 otherwise). Within the
    perfection period the original filing date is kept; after it the resubmission is allowed but files anew."""
    policy.require(ctx.principal, "efile.transmit")
    rejected, _ = await get_transmission(ctx, return_id, transmission_id, lock=True)
    if rejected.status != "rejected" or rejected.resolved_at is not None:
        raise Conflict(f"Only a rejected transmission not yet resubmitted can be resubmitted "
                       f"(this one is {rejected.status}{', resubmitted' if rejected.resolved_at else ''})")
    tax_return, client = await load_visible_return(ctx, return_id)
    tax_return = await ctx.session.get(TaxReturn, tax_return.id, with_for_update=True, populate_existing=True)
    figures = dict(rejected.figures) if figures is None else figures
    changed = rules.beyond_tolerance(rejected.figures, figures)
    if rejected.jurisdiction == rules.FEDERAL:
        statuses = ("rejected", "ready_to_file")
    else:
        statuses = ("accepted", "complete", "ready_to_file", "filed")
    await _check_guards(ctx.session, tax_return, client, new_8879_since=rejected.transmitted_at if changed else None,
                        statuses=statuses)
    today = _now().date()
    kept = rejected.perfection_deadline is not None and today <= rejected.perfection_deadline
    original = rejected.filing_date if kept else None
    row = EfileTransmission(
        id=uuid.uuid4(), firm_id=rejected.firm_id, client_id=rejected.client_id, return_id=rejected.return_id,
        jurisdiction=rejected.jurisdiction, transmission_type="resubmission",
        submission_id=await _new_submission_id(ctx.session, efin, today), status="transmitting",
        federal_transmission_id=rejected.federal_transmission_id, previous_transmission_id=rejected.id, attempts=1,
        figures=figures, notes=notes, filing_date=original, filing_date_kept=kept, paper_filing_required=False,
        created_by=ctx.principal.subject_id)
    if row.federal_transmission_id is not None:
        # A state resubmitted after its federal was accepted goes at once.
        federal = await ctx.session.get(EfileTransmission, row.federal_transmission_id)
        row.status = "transmitting" if federal is not None and federal.status == "accepted" else "pending"
    rejected.resolved_at = _now()
    ctx.session.add(row)
    await ctx.session.flush()
    created = [row]
    if rejected.jurisdiction == rules.FEDERAL:
        # The states the IRS denied with the federal go again, linked to the new federal submission.
        denied = (await ctx.session.execute(select(EfileTransmission).where(
            EfileTransmission.federal_transmission_id == rejected.id, EfileTransmission.status == "denied_by_irs",
            EfileTransmission.resolved_at.is_(None)).with_for_update())).scalars().all()
        for state in denied:
            state.resolved_at = _now()
            again = EfileTransmission(
                id=uuid.uuid4(), firm_id=state.firm_id, client_id=state.client_id, return_id=state.return_id,
                jurisdiction=state.jurisdiction, transmission_type="resubmission",
                submission_id=await _new_submission_id(ctx.session, efin, today), status="pending",
                federal_transmission_id=row.id, previous_transmission_id=state.id, attempts=1,
                figures=figures, filing_date_kept=False, paper_filing_required=False,
                created_by=ctx.principal.subject_id)
            ctx.session.add(again)
            created.append(again)
        await ctx.session.flush()
    for made in created:
        await ctx.audit("efile.resubmit", "efile_transmission", made.id, client_id=made.client_id,
                        details=_audit_details(made, previous_transmission_id=str(made.previous_transmission_id),
                                               filing_date_kept=made.filing_date_kept, beyond_tolerance=changed,
                                               notes=notes))
    return Resubmission(created, kept, changed)


# ---- the workflow's steps (system actor) -----------------------------------------------------------------------

async def load_for_workflow(ctx: ServiceContext, transmission_id: uuid.UUID, lock: bool = True) -> EfileTransmission:
    policy.require(ctx.principal, "efile.workflow")
    stmt = select(EfileTransmission).where(EfileTransmission.id == transmission_id,
                                           EfileTransmission.firm_id == ctx.principal.firm_id)
    row = (await ctx.session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("Transmission")
    return row


async def record_transmitted(ctx: ServiceContext, transmission_id: uuid.UUID) -> EfileTransmission:
    """The transmitter took the submission (idempotent: a retried step finds it transmitted)."""
    row = await load_for_workflow(ctx, transmission_id)
    if row.status in ("transmitting", "pending"):
        row.status, row.transmitted_at = "transmitted", _now()
        if row.filing_date is None:
            row.filing_date = row.transmitted_at.date()
        await ctx.audit("efile.transmitted", "efile_transmission", row.id, client_id=row.client_id,
                        details=_audit_details(row, attempt=row.attempts))
    return row


async def mark_transmitting(ctx: ServiceContext, transmission_id: uuid.UUID) -> EfileTransmission:
    """A state whose federal was accepted leaves `pending`."""
    row = await load_for_workflow(ctx, transmission_id)
    if row.status == "pending":
        row.status = "transmitting"
        await ctx.audit("efile.release_state", "efile_transmission", row.id, client_id=row.client_id,
                        details=_audit_details(row))
    return row


@dataclass(frozen=True)
class Acknowledgement:
    """An acknowledgement as the transmitter reported it (integrations/efile.py, the e-file webhook)."""

    submission_id: str
    status: str  # accepted | rejected
    confirmation_number: str | None = None
    acceptance_date: date | None = None
    errors: tuple[dict, ...] = ()  # {error_code, category, severity, message, data_value}


async def record_acknowledgement(ctx: ServiceContext, ack: Acknowledgement, via: str
                                 ) -> tuple[EfileTransmission | None, bool]:
    """Record the acknowledgement of a Submission ID once (the webhook and a poll may both bring it): the
    transmission's status and dates, and each rejection. Returns (transmission, recorded now); (None, False) for
    a Submission ID that is no transmission of ours (or of this firm, when the caller's firm is bound)."""
    row = (await ctx.session.execute(select(EfileTransmission).where(
        EfileTransmission.submission_id == ack.submission_id).with_for_update())).scalar_one_or_none()
    if row is None:
        return None, False
    ctx.bind_to_firm(row.firm_id)
    if row.firm_id != ctx.principal.firm_id:
        return None, False
    inserted = (await ctx.session.execute(insert(EfileAcknowledgement).values(
        id=uuid.uuid4(), transmission_id=row.id, submission_id=ack.submission_id, ack_type=ack.status,
        confirmation_number=ack.confirmation_number, acceptance_date=ack.acceptance_date, received_via=via,
        received_at=_now()).on_conflict_do_nothing(constraint="uq_efile_acknowledgements_submission")
        .returning(EfileAcknowledgement.id))).first()
    if inserted is None:
        return row, False
    row.acknowledged_at = _now()
    row.status = ack.status
    if ack.status == "accepted":
        row.confirmation_number, row.acceptance_date = ack.confirmation_number, ack.acceptance_date
    for error in ack.errors:
        if error.get("severity") == "alert":
            continue  # MeF alerts do not reject
        known = rules.describe(error["error_code"], error.get("category"), error.get("message"))
        error = redact(error)  # the data value of an identifier field (PrimarySSN) is not kept
        await ctx.session.execute(insert(EfileRejection).values(
            id=uuid.uuid4(), transmission_id=row.id, submission_id=ack.submission_id,
            error_code=error["error_code"][:30], category=known.category,
            severity=(error.get("severity") or "reject")[:30],
            description=(error.get("message") or known.description)[:500],
            data_value=(str(error["data_value"])[:200] if error.get("data_value") is not None else None),
            resolution_guidance=known.resolution_guidance, auto_correctable=known.auto_correctable,
            created_at=_now()).on_conflict_do_nothing(constraint="uq_efile_rejections_submission_code"))
    await ctx.audit(f"efile.{ack.status}", "efile_transmission", row.id, client_id=row.client_id,
                    details=_audit_details(row, via=via, confirmation_number=ack.confirmation_number,
                                           error_codes=[e["error_code"] for e in ack.errors]))
    record_event(ctx, f"efile.{ack.status}", "efile_transmission", row.id, row.client_id, {"status": ack.status})
    return row, True


async def acknowledgement_of(session: AsyncSession, submission_id: str) -> EfileAcknowledgement | None:
    return (await session.execute(select(EfileAcknowledgement).where(
        EfileAcknowledgement.submission_id == submission_id))).scalar_one_or_none()


async def retry_technical(ctx: ServiceContext, transmission_id: uuid.UUID, efin: str) -> EfileTransmission:
    """A technical rejection is retransmitted under a new Submission ID (the IRS keeps a rejected one)."""
    row = await load_for_workflow(ctx, transmission_id)
    if row.status == "rejected":
        previous = row.submission_id
        row.submission_id = await _new_submission_id(ctx.session, efin, _now().date())
        row.status, row.attempts, row.acknowledged_at = "transmitting", row.attempts + 1, None
        await ctx.audit("efile.retry_technical", "efile_transmission", row.id, client_id=row.client_id,
                        details=_audit_details(row, previous_submission_id=previous, attempt=row.attempts))
    return row


async def start_perfection_period(ctx: ServiceContext, transmission_id: uuid.UUID, return_type: str) -> EfileTransmission:
    row = await load_for_workflow(ctx, transmission_id)
    if row.perfection_deadline is None:
        rejected_on = (row.acknowledged_at or _now()).date()
        row.perfection_deadline = rules.perfection_deadline(return_type, rejected_on)
        await ctx.audit("efile.perfection_period", "efile_transmission", row.id, client_id=row.client_id,
                        details=_audit_details(row, perfection_deadline=row.perfection_deadline.isoformat()))
    return row


async def deny_linked_states(ctx: ServiceContext, federal_id: uuid.UUID) -> list[EfileTransmission]:
    """The states waiting on a rejected federal submission are denied by the IRS (MeF: "Denied by IRS")."""
    rows = (await ctx.session.execute(select(EfileTransmission).where(
        EfileTransmission.federal_transmission_id == federal_id, EfileTransmission.status == "pending",
        EfileTransmission.firm_id == ctx.principal.firm_id).with_for_update())).scalars().all()
    for row in rows:
        row.status = "denied_by_irs"
        await ctx.audit("efile.denied_by_irs", "efile_transmission", row.id, client_id=row.client_id,
                        details=_audit_details(row, federal_transmission_id=str(federal_id)))
    return list(rows)


async def mark_once(ctx: ServiceContext, transmission_id: uuid.UUID, column: str, action: str) -> bool:
    """Set one of the transmission's once-only instants (client_notified_at, escalated_at, perfection_warned_at);
    True the first time. Only while the rejection is unresolved, except the client's notice."""
    row = await load_for_workflow(ctx, transmission_id)
    if getattr(row, column) is not None or (column != "client_notified_at" and row.resolved_at is not None):
        return False
    setattr(row, column, _now())
    await ctx.audit(action, "efile_transmission", row.id, client_id=row.client_id, details=_audit_details(row))
    return True


async def require_paper_filing(ctx: ServiceContext, transmission_id: uuid.UUID) -> bool:
    """The perfection period lapsed without a resubmission: the return must be filed on paper."""
    row = await load_for_workflow(ctx, transmission_id)
    if row.paper_filing_required or row.resolved_at is not None:
        return False
    row.paper_filing_required = True
    await ctx.audit("efile.paper_filing_required", "efile_transmission", row.id, client_id=row.client_id,
                    details=_audit_details(row, perfection_deadline=str(row.perfection_deadline)))
    return True


async def return_outcome(session: AsyncSession, return_id: uuid.UUID) -> tuple[bool, bool]:
    """(federal accepted, every jurisdiction's latest transmission accepted) for the return."""
    rows = (await session.execute(select(EfileTransmission).where(
        EfileTransmission.return_id == return_id, EfileTransmission.resolved_at.is_(None)))).scalars().all()
    federal = any(r.jurisdiction == rules.FEDERAL and r.status == "accepted" for r in rows)
    return federal, bool(rows) and all(r.status == "accepted" for r in rows)


async def is_superseded(session: AsyncSession, transmission_id: uuid.UUID) -> bool:
    row = await session.get(EfileTransmission, transmission_id)
    return row is None or row.resolved_at is not None


async def linked_states(session: AsyncSession, federal_id: uuid.UUID) -> list[uuid.UUID]:
    return list((await session.execute(select(EfileTransmission.id).where(
        EfileTransmission.federal_transmission_id == federal_id))).scalars())

