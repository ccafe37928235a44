"""ConsentWorkflow: one per Form 7216 consent once it is sent (`consent:<uuid>`, the signatures queue).

Sent → waits for the signer. Signed → the sealed PDF is stored, then the consent is in force until its
`expires_at` (one year from the signature unless the consent names another date), enforced by a durable timer
that marks it `expired`. Declined → ends. Revoked (the row already says so; the gate already refuses) → ends at
once, closing the signing link of a consent not yet signed. The gate also checks `expires_at` against the clock
itself, so a late timer never lets a disclosure through."""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.esign import ESignActivities
    from orchestration import search_attributes as sa
    from orchestration.consent import WORKFLOW
    from orchestration.signing import SigningInput

from workflows.signing import SigningWorkflow


@workflow.defn(name=WORKFLOW)
class ConsentWorkflow(SigningWorkflow):
    @workflow.run
    async def run(self, data: SigningInput) -> str:
        self._publish_start()
        if not await self._wait_sent():
            await workflow.wait_condition(workflow.all_handlers_finished)
            return "pending"
        while True:
            event = await self._next_event(None)
            if event.kind == "declined":
                return await self._finish("declined")
            if event.kind == "revoked":
                await self._activity(ESignActivities.cancel, self._ref)
                return await self._finish("revoked")
            state = await self._state()
            if state.status == "signed":
                break
        await self._activity(ESignActivities.store_signed, self._ref)
        self._set_status("signed")
        self._search_attributes.publish({sa.NEXT_REMINDER_AT: state.expires_at})
        # In force until expires_at: a revocation ends it at once, the timer otherwise.
        while True:
            event = await self._next_event(state.expires_at)
            if event is None:
                return await self._finish(await self._activity(ESignActivities.expire, self._step()))
            if event.kind == "revoked":
                return await self._finish("revoked")
