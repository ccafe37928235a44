"""EngagementWorkflow: one per engagement letter once it is sent (`engagement:<uuid>`, the signatures queue).

Sent → reminds the client on days 3, 5 and 7 after sending (three at most, through the provider, only while the
letter still waits) → expires after `signature_days` (settings.engagement_signature_days, 30 by default), closing
the signing link. Signed → the sealed PDF (certificate of completion, PAdES) is stored and kept as the client's
ENGAGEMENT_LETTER document. Declined → ends."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.esign import ESignActivities
    from orchestration import search_attributes as sa
    from orchestration.engagement import WORKFLOW
    from orchestration.signing import SigningInput

from workflows.signing import SigningWorkflow

REMINDER_DAYS = (3, 5, 7)


@workflow.defn(name=WORKFLOW)
class EngagementWorkflow(SigningWorkflow):
    @workflow.run
    async def run(self, data: SigningInput) -> str:
        self._publish_start()
        if not await self._wait_sent():
            await workflow.wait_condition(workflow.all_handlers_finished)
            return "draft"
        sent_at = self._sent.sent_at
        steps = [(sent_at + timedelta(days=day), "remind") for day in REMINDER_DAYS]
        steps.append((sent_at + timedelta(days=data.signature_days), "expire"))
        for when, step in steps:
            self._search_attributes.publish({sa.NEXT_REMINDER_AT: when})
            event = await self._next_event(when)
            while event is not None:
                if event.kind == "declined":
                    return await self._finish("declined")
                if event.kind == "signed" and (await self._state()).status == "signed":
                    await self._activity(ESignActivities.store_signed, self._ref)
                    return await self._finish("signed")
                event = await self._next_event(when)
            if step == "remind":
                self._set_status(await self._activity(ESignActivities.remind, self._step()))
            else:
                status = await self._activity(ESignActivities.expire, self._step())
                if status == "signed":  # signed just before the timer: its event is on the way
                    await self._activity(ESignActivities.store_signed, self._ref)
                return await self._finish(status)
        raise AssertionError("the last step expires the letter")
