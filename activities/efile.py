"""EfileTransmissionWorkflow's activities: submit through the transmitter, find the acknowledgement, and apply
what it means — to the transmission (domain/efile/service.py, under `ServiceContext.for_system`), to the
return (through its workflow's typed client, orchestration/tax_return.py, as the system actor), to the linked
state submissions, and to the people who must hear of it (the client of a rejection within the day, the
firm's deciders of an escalation or a lapsing perfection period).

Every step is idempotent: the Submission ID is the transmitter's idempotency key, an acknowledgement is stored
once per Submission ID, a return transition already made is not asked for again, and each mail is marked sent
on the transmission in the transaction that decides to send it.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, time, timezone

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from domain.client.models import Client
from domain.context import ServiceContext
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose, RegulatoryException
from domain.efile import rules
from domain.efile import service as efile
from domain.efile.models import EfileTransmission
from domain.errors import DomainError
from domain.roles import Role
from domain.tax_return import state_machine as sm
from domain.tax_return.models import TaxReturn
from domain.user.service import firm_decider_emails
from integrations.efile import Submission
from integrations.notify import Notification, Recipient
from integrations.providers import EfileTransmitter, Notifications
from orchestration import efile as contract
from orchestration import tax_return as tax_return_workflow

SOURCE = "efile"
log = logging.getLogger("taxpractice.efile")


def _system(session: AsyncSession, firm_id: uuid.UUID) -> ServiceContext:
    return ServiceContext.for_system(session, firm_id, SOURCE)


async def _disclose_for_efile(ctx: ServiceContext, transmission: EfileTransmission, tax_year: int) -> None:
    """THE one place return information leaves for the IRS (or a state) through the transmitter: through the
    §7216 gate under its named exception (Treas. Reg. §301.7216-2: disclosure to e-file the return needs no Form
    7216 consent), so the client's disclosure log shows every transmission."""
    recipient = "IRS" if transmission.jurisdiction == rules.FEDERAL else f"state:{transmission.jurisdiction}"
    await gate.authorize(ctx, gate.Disclosure(
        client_id=transmission.client_id, recipient=recipient, purpose=DisclosurePurpose.EFILE_TRANSMISSION,
        information=f"efile.{transmission.jurisdiction}", tax_year=tax_year, entity_type="efile_transmission",
        entity_id=transmission.id, exception=RegulatoryException.EFILE_TRANSMISSION))


def _end_of_day(day) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=timezone.utc)


class EfileActivities:
    def __init__(self, sessionmaker, transmitter: EfileTransmitter | None, notifications: Notifications, efin: str):
        self.sessionmaker, self.transmitter, self.notifications, self.efin = (
            sessionmaker, transmitter, notifications, efin)

    def _require_transmitter(self) -> EfileTransmitter:
        if self.transmitter is None:
            # Not retryable: the workers must be configured (EFILING_API_URL) and restarted.
            raise DomainError("E-filing is not configured on the workers (EFILING_API_URL)", [], 503,
                              "efile_not_configured", "E-filing Not Configured")
        return self.transmitter

    # ---- the return, through its own workflow ------------------------------------------------------------------

    async def _drive_return(self, return_id: uuid.UUID, action: str, notes: str) -> None:
        """Move the return by a System transition, unless an earlier attempt did (status already the target) or the
        return is elsewhere (staff moved it: logged, not forced)."""
        transition = sm.BY_ACTION[action]
        async with self.sessionmaker() as session:
            tax_return = await session.get(TaxReturn, return_id)
        if tax_return is None or tax_return.status == transition.target:
            return
        if tax_return.status not in transition.sources:
            log.warning("return %s is %s: e-file did not %s it", return_id, tax_return.status, action)
            return
        try:
            await tax_return_workflow.transition(activity.client(), tax_return, tax_return_workflow.TransitionRequest(
                action=action, actor_role=Role.SYSTEM.value,
                source=SOURCE, notes=notes))
        except DomainError:
            async with self.sessionmaker() as session:
                now = await session.get(TaxReturn, return_id, populate_existing=True)
            if now is None or now.status != transition.target:
                raise

    # ---- submitting ------------------------------------------------------------------------------------------

    @activity.defn(name="efile.submit")
    async def submit(self, ref: contract.TransmissionRef) -> contract.Submitted:
        transmitter = self._require_transmitter()
        async with self.sessionmaker.begin() as session:
            ctx = _system(session, ref.firm_id)
            row = await efile.load_for_workflow(ctx, ref.transmission_id)
            tax_return = await session.get(TaxReturn, row.return_id)
            client = await session.get(Client, row.client_id)
            federal = (await session.get(EfileTransmission, row.federal_transmission_id)
                       if row.federal_transmission_id else None)
            await _disclose_for_efile(ctx, row, tax_return.tax_year)
            submission = Submission(submission_id=row.submission_id, jurisdiction=row.jurisdiction,
                                    return_type=tax_return.return_type, tax_year=tax_return.tax_year,
                                    taxpayer_name=client.name,
                                    federal_submission_id=federal.submission_id if federal else None)
            was_rejected = tax_return.status == sm.Status.REJECTED
            # Inside the transaction: if the transmitter is out of reach the disclosure's record rolls back with
            # it, and the retried attempt records it again with the submission it goes with.
            await transmitter.submit(submission)
            row = await efile.record_transmitted(ctx, row.id)
            result = contract.Submitted(submission_id=row.submission_id, attempts=row.attempts)
            is_federal, is_retry = row.jurisdiction == rules.FEDERAL, row.attempts > 1
        if is_federal and not is_retry:
            await self._drive_return(row.return_id, "retransmit" if was_rejected else "transmit",
                                     f"submission {result.submission_id}")
        return result

    @activity.defn(name="efile.federal_status")
    async def federal_status(self, ref: contract.TransmissionRef) -> str:
        """For a state submission: accepted, rejected (the state is denied) or pending (still waiting)."""
        async with self.sessionmaker() as session:
            row = await efile.load_for_workflow(_system(session, ref.firm_id), ref.transmission_id, lock=False)
            federal = await session.get(EfileTransmission, row.federal_transmission_id)
            if row.status == "denied_by_irs" or (federal is not None and federal.status == "rejected"):
                return "rejected"
            return "accepted" if federal is not None and federal.status == "accepted" else "pending"

    @activity.defn(name="efile.release_state")
    async def release_state(self, ref: contract.TransmissionRef) -> None:
        async with self.sessionmaker.begin() as session:
            await efile.mark_transmitting(_system(session, ref.firm_id), ref.transmission_id)

    @activity.defn(name="efile.deny_state")
    async def deny_state(self, ref: contract.TransmissionRef) -> None:
        async with self.sessionmaker.begin() as session:
            row = await efile.load_for_workflow(_system(session, ref.firm_id), ref.transmission_id)
            if row.status == "pending":
                await efile.deny_linked_states(_system(session, ref.firm_id), row.federal_transmission_id)

    # ---- the acknowledgement ---------------------------------------------------------------------------------

    @activity.defn(name="efile.poll_acknowledgement")
    async def poll_acknowledgement(self, ref: contract.TransmissionRef) -> contract.AckOutcome:
        """The acknowledgement of the transmission's current Submission ID: recorded already (the webhook came
        first), or asked of the transmitter and recorded now."""
        async with self.sessionmaker.begin() as session:
            ctx = _system(session, ref.firm_id)
            row = await efile.load_for_workflow(ctx, ref.transmission_id, lock=False)
            submission_id = row.submission_id
            if await efile.acknowledgement_of(session, submission_id) is None:
                ack = await self._require_transmitter().acknowledgement(submission_id)
                if ack.status == "pending":
                    return contract.AckOutcome(status="pending")
                await efile.record_acknowledgement(ctx, efile.Acknowledgement(
                    submission_id, ack.status, ack.confirmation_number, ack.acceptance_date, ack.errors), "poll")
            recorded = await efile.acknowledgement_of(session, submission_id)
            category = None
            if recorded.ack_type == "rejected":
                found = [r for r in await efile.rejections(session, row.id) if r.submission_id == submission_id]
                category = found[0].category if found else "data_mismatch"
            return contract.AckOutcome(status=recorded.ack_type, category=category)

    @activity.defn(name="efile.retry_technical")
    async def retry_technical(self, ref: contract.TransmissionRef) -> None:
        async with self.sessionmaker.begin() as session:
            await efile.retry_technical(_system(session, ref.firm_id), ref.transmission_id, self.efin)

    # ---- accepted ------------------------------------------------------------------------------------------

    @activity.defn(name="efile.on_accepted")
    async def on_accepted(self, ref: contract.TransmissionRef) -> None:
        """Federal accepted: the return is accepted and its states may go. Once every jurisdiction is accepted,
        the return is complete."""
        async with self.sessionmaker() as session:
            row = await efile.load_for_workflow(_system(session, ref.firm_id), ref.transmission_id, lock=False)
            return_id, is_federal = row.return_id, row.jurisdiction == rules.FEDERAL
            states = await efile.linked_states(session, row.id) if is_federal else []
            number = row.confirmation_number
        if is_federal:
            await self._drive_return(return_id, "mark_accepted", f"confirmation {number}")
            for state_id in states:
                await contract.tell_federal_outcome(activity.client(), state_id, "accepted")
        async with self.sessionmaker() as session:
            federal_accepted, all_accepted = await efile.return_outcome(session, return_id)
        if federal_accepted and all_accepted:
            await self._drive_return(return_id, "complete", "every jurisdiction accepted")

    # ---- rejected ------------------------------------------------------------------------------------------

    @activity.defn(name="efile.on_rejected")
    async def on_rejected(self, ref: contract.TransmissionRef) -> contract.RejectionFacts:
        """The rejection stands (no technical retry left): the return is rejected (federal), its states denied,
        the perfection period starts, and the client is told (Pub 1345: within 24 hours)."""
        async with self.sessionmaker.begin() as session:
            ctx = _system(session, ref.firm_id)
            row = await efile.load_for_workflow(ctx, ref.transmission_id)
            tax_return = await session.get(TaxReturn, row.return_id)
            row = await efile.start_perfection_period(ctx, row.id, tax_return.return_type)
            found = [r for r in await efile.rejections(session, row.id) if r.submission_id == row.submission_id]
            denied = (await efile.deny_linked_states(ctx, row.id)) if row.jurisdiction == rules.FEDERAL else []
            notify = await efile.mark_once(ctx, row.id, "client_notified_at", "efile.client_notified")
            client = await session.get(Client, row.client_id)
            facts = contract.RejectionFacts(
                category=found[0].category if found else "data_mismatch", rejected_at=row.acknowledged_at,
                perfection_deadline=_end_of_day(row.perfection_deadline), superseded=row.resolved_at is not None)
            codes = ", ".join(f"{r.error_code} ({r.description})" for r in found) or "no code given"
            where = "IRS" if row.jurisdiction == rules.FEDERAL else row.jurisdiction
            return_id, is_federal = row.return_id, row.jurisdiction == rules.FEDERAL
            tax_year, return_type = tax_return.tax_year, tax_return.return_type
            if notify:
                # Sent inside the transaction that marks it sent: a failed send rolls the mark back and the
                # retried attempt sends it; a send whose commit is lost is sent once more (the rare duplicate a
                # client can live with, unlike a missing notice).
                await self.notifications.send(Recipient(email=client.email), Notification(
                    subject=f"Your {tax_year} {return_type} e-file was rejected by the {where}",
                    text=(f"The {where} rejected the electronic filing of your {tax_year} {return_type} return "
                          f"(submission {row.submission_id}): {codes}.\n\nWe are correcting it and will "
                          f"retransmit it; if we need anything from you we will ask. A return retransmitted by "
                          f"{row.perfection_deadline.isoformat()} keeps its original filing date.\n"),
                    sms_text=f"Your {tax_year} e-file was rejected by the {where}; we are correcting it."))
        if is_federal:
            await self._drive_return(return_id, "mark_rejected", f"rejected: {codes}"[:500])
            for state in denied:
                await contract.tell_federal_outcome(activity.client(), state.id, "rejected")
        return facts

    async def _tell_deciders(self, ref: contract.TransmissionRef, decide, subject: str, text: str) -> bool:
        """Mail the firm's admins and EA/CPAs once: `decide(ctx)` makes the transmission's mark of it in the same
        transaction (False: marked before, nothing to send), so a failed send rolls the mark back for the retry."""
        async with self.sessionmaker.begin() as session:
            ctx = _system(session, ref.firm_id)
            if not await decide(ctx):
                return False
            row = await efile.load_for_workflow(ctx, ref.transmission_id)
            tax_return = await session.get(TaxReturn, row.return_id)
            facts = (f"{tax_return.tax_year} {tax_return.return_type} return {tax_return.id}, {row.jurisdiction} "
                     f"submission {row.submission_id}, perfection period until {row.perfection_deadline}")
            subject = subject.format(jurisdiction=row.jurisdiction, year=tax_return.tax_year)
            for address in await firm_decider_emails(session, ref.firm_id):
                await self.notifications.send(Recipient(email=address), Notification(
                    subject=subject, text=f"{text}\n\n{facts}\n", sms_text=subject))
        return True

    @activity.defn(name="efile.escalate")
    async def escalate(self, ref: contract.TransmissionRef) -> bool:
        return await self._tell_deciders(
            ref, lambda ctx: efile.mark_once(ctx, ref.transmission_id, "escalated_at", "efile.escalated"),
            "Escalated: {jurisdiction} e-file rejection of a {year} return is still unresolved",
            "A rejected e-file submission has not been corrected and resubmitted within its category's time.")

    @activity.defn(name="efile.warn_perfection")
    async def warn_perfection(self, ref: contract.TransmissionRef) -> bool:
        return await self._tell_deciders(
            ref, lambda ctx: efile.mark_once(ctx, ref.transmission_id, "perfection_warned_at",
                                             "efile.perfection_warning"),
            "Perfection period ends tomorrow: {jurisdiction} e-file of a {year} return",
            "Retransmit the corrected return by tomorrow to keep its original filing date; after that it must be "
            "filed on paper.")

    @activity.defn(name="efile.lapse_perfection")
    async def lapse_perfection(self, ref: contract.TransmissionRef) -> bool:
        return await self._tell_deciders(
            ref, lambda ctx: efile.require_paper_filing(ctx, ref.transmission_id),
            "Paper filing required: {jurisdiction} e-file of a {year} return",
            "The perfection period lapsed without a retransmission: file this return on paper.")

    @activity.defn(name="efile.is_superseded")
    async def is_superseded(self, ref: contract.TransmissionRef) -> bool:
        async with self.sessionmaker() as session:
            return await efile.is_superseded(session, ref.transmission_id)

