"""EfileTransmissionWorkflow: one durable workflow per transmission (`efile-transmission:<uuid>`, queue `efile`).

1. A state submission waits for its federal one: accepted → it goes; rejected → it is denied by the IRS.
2. Submit through the transmitter (a retried activity never files twice: the Submission ID is its key).
3. Wait for the acknowledgement: the e-file webhook's signal or a poll with backoff, whichever comes first.
4. Accepted → the return moves filed → accepted (→ complete once every jurisdiction is accepted).
   Rejected, technical → retransmitted under a new Submission ID, at most 3 times.
   Rejected otherwise → the return is rejected, the client told, and durable timers run until a resubmission
   resolves it: escalation after its category's time, the perfection period's warning a day before it ends,
   and the paper-filing flag when it lapses.
"""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.efile import EfileActivities
    from domain.efile import rules
    from orchestration.efile import (
        ACKNOWLEDGED_SIGNAL, FEDERAL_OUTCOME_SIGNAL, RESOLVED_SIGNAL, WORKFLOW, AckOutcome, EfileTransmissionInput,
        RejectionFacts, TransmissionRef,
    )

STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=5))
STEP_TIMEOUT = timedelta(seconds=60)


@workflow.defn(name=WORKFLOW)
class EfileTransmissionWorkflow:
    @workflow.init
    def __init__(self, data: EfileTransmissionInput) -> None:
        self.data = data
        self.ref = TransmissionRef(transmission_id=data.transmission_id, firm_id=data.firm_id)
        self.acknowledged: set[str] = set()
        self.federal_outcome: str | None = None
        self.resolved = False

    @workflow.signal(name=ACKNOWLEDGED_SIGNAL)
    def on_acknowledged(self, submission_id: str) -> None:
        self.acknowledged.add(submission_id)

    @workflow.signal(name=FEDERAL_OUTCOME_SIGNAL)
    def on_federal_outcome(self, outcome: str) -> None:
        self.federal_outcome = outcome

    @workflow.signal(name=RESOLVED_SIGNAL)
    def on_resolved(self, _: object = None) -> None:
        self.resolved = True

    async def _step(self, method):
        return await workflow.execute_activity_method(method, self.ref, start_to_close_timeout=STEP_TIMEOUT,
                                                      retry_policy=STEP_RETRY)

    def _backoff(self):
        delay = self.data.poll_initial_s
        while True:
            yield timedelta(seconds=delay)
            delay = min(delay * 2, self.data.poll_max_s)

    @workflow.run
    async def run(self, data: EfileTransmissionInput) -> str:
        if data.jurisdiction != rules.FEDERAL:
            if await self._federal_outcome() == "rejected":
                await self._step(EfileActivities.deny_state)
                return "denied_by_irs"
            await self._step(EfileActivities.release_state)
        while True:
            submitted = await self._step(EfileActivities.submit)
            outcome = await self._acknowledgement(submitted.submission_id)
            if outcome.status == "accepted":
                await self._step(EfileActivities.on_accepted)
                return "accepted"
            if outcome.category == "technical" and submitted.attempts <= rules.TECHNICAL_RETRIES:
                await self._step(EfileActivities.retry_technical)
                continue
            break
        facts: RejectionFacts = await self._step(EfileActivities.on_rejected)
        await self._while_unresolved(facts)
        return "resubmitted" if self.resolved else "rejected"

    async def _federal_outcome(self) -> str:
        for delay in self._backoff():
            outcome = self.federal_outcome or await self._step(EfileActivities.federal_status)
            if outcome != "pending":
                return outcome
            try:
                await workflow.wait_condition(lambda: self.federal_outcome is not None,
                                              timeout=delay.total_seconds())
            except asyncio.TimeoutError:
                pass
        raise AssertionError("unreachable")

    async def _acknowledgement(self, submission_id: str) -> AckOutcome:
        for delay in self._backoff():
            outcome = await self._step(EfileActivities.poll_acknowledgement)
            if outcome.status != "pending":
                return outcome
            try:
                await workflow.wait_condition(lambda: submission_id in self.acknowledged,
                                              timeout=delay.total_seconds())
            except asyncio.TimeoutError:
                pass
        raise AssertionError("unreachable")

    async def _while_unresolved(self, facts: RejectionFacts) -> None:
        """Durable timers until a resubmission resolves the rejection: escalation by category, the perfection
        period's warning one day before its end, and the paper-filing flag at its end."""
        if facts.superseded:
            return
        due: list[tuple[datetime, object]] = sorted([
            (facts.rejected_at + rules.ESCALATE_AFTER.get(facts.category, timedelta(days=7)),
             EfileActivities.escalate),
            (facts.perfection_deadline - timedelta(days=1), EfileActivities.warn_perfection),
            (facts.perfection_deadline, EfileActivities.lapse_perfection),
        ], key=lambda item: item[0])
        for at, step in due:
            wait = (at - workflow.now()).total_seconds()
            if wait > 0:
                try:
                    await workflow.wait_condition(lambda: self.resolved, timeout=wait)
                except asyncio.TimeoutError:
                    pass
            if self.resolved or await self._step(EfileActivities.is_superseded):
                self.resolved = True
                return
            await self._step(step)
