"""IdentityVerificationWorkflow: one durable workflow per verification (`identity-verification:<uuid>`, queue
`identity`). It sends each one-time code the API made (signal `send_code`), creates the Persona inquiry when the
government ID step starts (Update `government_id`, answered with the link), and expires the verification when
its time is up (a durable timer); it ends when the verification reaches a final status (signal `finished`).
The steps' outcomes are recorded by the API and the Persona webhook in the verification's row."""

import asyncio
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.identity import IdentityActivities
    from orchestration.identity import (
        FINISHED_SIGNAL, GOVERNMENT_ID_UPDATE, SEND_CODE_SIGNAL, WORKFLOW, CodeRef, IdentityVerificationInput,
        InquiryLink, VerificationRef,
    )

STEP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1),
                         maximum_attempts=20)
STEP_TIMEOUT = timedelta(seconds=30)
FINAL = ("completed", "failed", "expired")


@workflow.defn(name=WORKFLOW)
class IdentityVerificationWorkflow:
    @workflow.init
    def __init__(self, data: IdentityVerificationInput) -> None:
        self.data = data
        self.ref = VerificationRef(verification_id=data.verification_id, firm_id=data.firm_id)
        self.codes: list[str] = []
        self.seen: set[str] = set()
        self.finished = False

    @workflow.signal(name=SEND_CODE_SIGNAL)
    def on_send_code(self, code_id: str) -> None:
        if code_id not in self.seen:  # a message delivered twice sends its code once
            self.seen.add(code_id)
            self.codes.append(code_id)

    @workflow.signal(name=FINISHED_SIGNAL)
    def on_finished(self, _: object = None) -> None:
        self.finished = True

    @workflow.update(name=GOVERNMENT_ID_UPDATE)
    async def government_id(self) -> InquiryLink:
        return await workflow.execute_activity_method(IdentityActivities.create_inquiry, self.ref,
                                                      start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)

    @workflow.run
    async def run(self, data: IdentityVerificationInput) -> str:
        expiry_checked = False
        while True:
            while self.codes:
                code_id = self.codes.pop(0)
                await workflow.execute_activity_method(
                    IdentityActivities.send_code, CodeRef(code_id=uuid.UUID(code_id), firm_id=data.firm_id),
                    start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
            if self.finished:
                await workflow.wait_condition(workflow.all_handlers_finished)
                return "finished"
            remaining = (data.expires_at - workflow.now()).total_seconds()
            if remaining <= 0 and not expiry_checked:
                status = await workflow.execute_activity_method(
                    IdentityActivities.expire, self.ref, start_to_close_timeout=STEP_TIMEOUT, retry_policy=STEP_RETRY)
                if status in FINAL:
                    await workflow.wait_condition(workflow.all_handlers_finished)
                    return status
                expiry_checked = True  # in manual review: staff decide, however long it takes
            try:
                await workflow.wait_condition(lambda: bool(self.codes) or self.finished,
                                              timeout=None if expiry_checked else max(remaining, 0.001))
            except asyncio.TimeoutError:
                pass
