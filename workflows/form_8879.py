"""Form8879Workflow: one per return's Form 8879 sent for e-signature (`form-8879:<return uuid>`, the signatures
queue). Sent → waits for the taxpayer; signed → the sealed PDF (certificate of completion, PAdES) is kept as the
return's FORM_8879 document; declined → ends. The return's own workflow moves on through the system events the
API and the webhook send it (send_for_signature, signature_received)."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.esign import ESignActivities
    from orchestration.form_8879 import WORKFLOW
    from orchestration.signing import SigningInput

from workflows.signing import SigningWorkflow


@workflow.defn(name=WORKFLOW)
class Form8879Workflow(SigningWorkflow):
    @workflow.run
    async def run(self, data: SigningInput) -> str:
        self._publish_start()
        if not await self._wait_sent():
            await workflow.wait_condition(workflow.all_handlers_finished)
            return "not_sent"
        self._set_status("pending_signature")
        while True:
            event = await self._next_event(None)
            if event.kind == "declined":
                return await self._finish("declined")
            if event.kind == "signed":
                await self._activity(ESignActivities.store_signed, self._ref)
                return await self._finish("signed")
