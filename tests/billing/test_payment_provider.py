"""The payments provider (docs/providers.md): a refusal ends the invoice's send at once, with no retry, as a
refusal (a 502 payment_provider problem); the invoice stays a draft. Real Temporal, the payments sandbox over HTTP,
and a worker built as worker.py builds one (activity methods collected)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.worker import Worker

from activities.collect import activity_methods
from activities.invoice import InvoiceActivities
from integrations.notify import Notifier
from integrations.payments import StripePayments
from orchestration import domain_error
from tests.billing.test_invoice import create, get
from orchestration.invoice import InvoiceWorkflowInput
from workflows.invoice import InvoiceWorkflow


async def test_a_refusal_by_the_payment_provider_is_not_retried(tp, billing, payments):
    invoice = await create(tp, billing)
    # The sandbox, like Stripe, refuses a key that is no secret key (401): a refusal, not an outage.
    refusing = StripePayments("rk_not_a_secret_key", tp.settings.stripe_api_base, [])
    notifier = Notifier(tp.state.mailer, tp.settings.sms_email_domain)
    activities = InvoiceActivities(tp.state.sessionmaker, refusing, notifier, tp.settings.stripe_currency,
                                   tp.settings.portal_base_url)
    queue = f"billing-refused-{uuid.uuid4().hex[:8]}"
    async with Worker(tp.temporal, task_queue=queue, workflows=[InvoiceWorkflow],
                      activities=activity_methods(activities)):
        handle = await tp.temporal.start_workflow(
            InvoiceWorkflow.run, InvoiceWorkflowInput(invoice_id=uuid.UUID(invoice["id"]), firm_id=billing.firm_id,
                                                      client_id=uuid.UUID(billing.client["id"])),
            id=f"invoice-refused:{invoice['id']}", task_queue=queue)
        with pytest.raises(WorkflowUpdateFailedError) as failed:
            await handle.execute_update(InvoiceWorkflow.send)
        assert await handle.result() == "draft"
    refusal = domain_error.from_failure(failed.value)
    assert (refusal.status, refusal.code) == (502, "payment_provider")
    attempts = [r for r in payments.requests
                if (r["idempotency_key"] or "").startswith(f"invoice:{invoice['id']}:checkout:")]
    assert len(attempts) == 1  # once: a refusal is final
    assert (await get(tp, billing.admin, invoice["id"]))["status"] == "draft"
