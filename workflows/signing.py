"""What ConsentWorkflow and EngagementWorkflow share: the `send` Update (the document rendered, stored and handed
to the e-signature provider by one activity; a repeated send answers the first result), the `event` signal
(signed, declined, revoked: told after the row changed, so the workflow only acts on what is committed), and
waiting for an event until a moment. Definitions only; the steps are activities (activities/esign.py)."""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.esign import ESignActivities, SigningRef, StepInput, SubjectState
    from domain.errors import BusinessRuleViolation, DomainError
    from orchestration import domain_error
    from orchestration import search_attributes as sa
    from orchestration.retry import ACTIVITY_TIMEOUT, PATIENT
    from orchestration.signing import EVENT_SIGNAL, SEND_UPDATE, SendResult, SignatureEvent, SigningInput


class SigningWorkflow:
    """A base for the two workflows; each defines `run` (and is a @workflow.defn of its own)."""

    PUBLISH_PATCH = "signing-publish-changes"

    @workflow.init
    def __init__(self, data: SigningInput) -> None:
        self._input = data
        self._ref = SigningRef(subject_type=data.subject_type, subject_id=data.subject_id)
        self._sent: SendResult | None = None
        self._send_failed = False
        self._send_lock = asyncio.Lock()
        self._events: list[SignatureEvent] = []
        self._status = {"engagement": "draft", "consent": "pending"}.get(data.subject_type, "approved")
        self._search_attributes = sa.Publisher(self.PUBLISH_PATCH)

    @workflow.update(name=SEND_UPDATE)
    async def send(self) -> SendResult:
        async with self._send_lock:
            if self._sent is None:
                try:
                    self._sent = await workflow.execute_activity_method(
                        ESignActivities.send, self._ref, start_to_close_timeout=ACTIVITY_TIMEOUT,
                        retry_policy=PATIENT)
                except ActivityError as err:
                    self._send_failed = True
                    raise domain_error.as_failure(self._send_refusal(err)) from None
                self._set_status(self._sent.status)
        return self._sent

    @workflow.signal(name=EVENT_SIGNAL)
    def event(self, event: SignatureEvent) -> None:
        self._events.append(event)

    @workflow.query(name="status")
    def status(self) -> str:
        return self._status

    def _send_refusal(self, err: ActivityError) -> DomainError:
        refusal = domain_error.from_failure(err)
        if refusal is not None:
            return refusal
        cause = err.cause
        return BusinessRuleViolation(
            f"The {self._input.subject_type} cannot be sent: "
            f"{cause.message if isinstance(cause, ApplicationError) else err}",
            code=f"{self._input.subject_type}_not_sendable")

    def _publish_start(self) -> None:
        self._search_attributes.publish({sa.ENTITY_TYPE: self._input.subject_type, sa.ENTITY_STATUS: self._status,
                                         sa.CLIENT_ID: str(self._input.client_id),
                                         sa.FIRM_ID: str(self._input.firm_id)})

    def _set_status(self, status: str) -> None:
        if status != self._status:
            self._status = status
            self._search_attributes.publish({sa.ENTITY_STATUS: status})

    async def _wait_sent(self) -> bool:
        await workflow.wait_condition(lambda: self._sent is not None or self._send_failed)
        return self._sent is not None

    async def _next_event(self, until: datetime | None) -> SignatureEvent | None:
        """The next event, or None once `until` has passed (a durable timer)."""
        if not self._events:
            if until is None:
                await workflow.wait_condition(lambda: bool(self._events))
            else:
                remaining = until - workflow.now()
                if remaining <= timedelta(0):
                    return None
                try:
                    await workflow.wait_condition(lambda: bool(self._events), timeout=remaining)
                except asyncio.TimeoutError:
                    return None
        return self._events.pop(0)

    async def _activity(self, method, arg):
        return await workflow.execute_activity_method(method, arg, start_to_close_timeout=ACTIVITY_TIMEOUT,
                                                      retry_policy=PATIENT)

    async def _state(self) -> SubjectState:
        return await self._activity(ESignActivities.state, self._ref)

    def _step(self) -> StepInput:
        return StepInput(subject_type=self._input.subject_type, subject_id=self._input.subject_id,
                         at=workflow.now())

    async def _finish(self, status: str) -> str:
        self._set_status(status)
        self._search_attributes.publish({sa.NEXT_REMINDER_AT: None})
        await workflow.wait_condition(workflow.all_handlers_finished)
        return status
