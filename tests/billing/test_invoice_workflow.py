"""InvoiceWorkflow's calendar under the time-skipping server: overdue after the due date, reminders at 7, 14
and 30 days, escalation at 45, and nothing more once the invoice is paid or voided. Activities are the real
ones (Postgres, the mail capture, the payments sandbox); only the clock is the test server's."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from temporalio.worker import Worker

from activities.collect import activity_methods
from activities.invoice import InvoiceActivities
from domain.invoice.models import InvoiceHistory
from integrations.notify import Notifier
from integrations.payments import StripePayments
from tests.billing.test_invoice import create
from orchestration.invoice import InvoiceEvent, InvoiceWorkflowInput
from workflows.invoice import InvoiceWorkflow
from tests.support import signal_ending

QUEUE = "billing-time-skipping"


@pytest.fixture
async def worker(tp, time_skipping, payments):
    settings = tp.settings
    activities = InvoiceActivities(tp.state.sessionmaker, StripePayments.from_settings(settings),
                                   Notifier(tp.state.mailer, settings.sms_email_domain), settings.stripe_currency,
                                   settings.portal_base_url)
    async with Worker(time_skipping.client, task_queue=QUEUE, workflows=[InvoiceWorkflow],
                      activities=activity_methods(activities)):
        yield time_skipping


async def start_and_send(env, billing, invoice: dict):
    handle = await env.client.start_workflow(
        InvoiceWorkflow.run, InvoiceWorkflowInput(invoice_id=uuid.UUID(invoice["id"]), firm_id=billing.firm_id,
                                                  client_id=uuid.UUID(billing.client["id"])),
        id=f"invoice:{invoice['id']}", task_queue=QUEUE)
    result = await handle.execute_update(InvoiceWorkflow.send)
    return handle, result


async def events(tp, invoice_id: str) -> list[str]:
    async with tp.state.sessionmaker() as session:
        rows = await session.execute(select(InvoiceHistory.event).where(
            InvoiceHistory.invoice_id == uuid.UUID(invoice_id)).order_by(InvoiceHistory.occurred_at))
        return list(rows.scalars())


async def test_overdue_reminders_and_escalation_then_void(tp, billing, worker):
    _, _ = await tp.staff_session(billing.firm_id, "ea_cpa")  # escalation goes to admins and EA/CPAs
    # The test server's clock runs ahead of the wall clock once a test has skipped time: dates follow it.
    today = (await worker.get_current_time()).date()
    invoice = await create(tp, billing, due_date=today.isoformat())
    handle, sent = await start_and_send(worker, billing, invoice)
    assert sent.status == "sent" and sent.due_date == today

    await worker.sleep(timedelta(days=1, hours=1))
    assert (await handle.query(InvoiceWorkflow.status)) == "overdue"
    await worker.sleep(timedelta(days=50))
    assert await events(tp, invoice["id"]) == ["created", "sent", "mailed", "overdue", "reminder_7", "reminder_14",
                                               "reminder_30", "escalated"]
    reminders = [m for m in await tp.mail_to(billing.client["email"]) if m["subject"].startswith("Reminder:")]
    assert sorted(m["subject"].split(" is ")[1] for m in reminders) == [
        "14 days past due", "30 days past due", "7 days past due"]

    # After the escalation the workflow still listens: voiding ends it and closes the payment link.
    assert (await tp.http.post(f"/v1/invoices/{invoice['id']}/void", headers=billing.admin)).status_code == 200
    await signal_ending(worker.client, handle, InvoiceWorkflow.event, InvoiceEvent(kind="voided"))
    assert await handle.result() == "void"


async def test_payment_stops_the_reminders(tp, billing, worker):
    invoice = await create(tp, billing, due_date=(await worker.get_current_time()).date().isoformat())
    handle, _ = await start_and_send(worker, billing, invoice)
    await worker.sleep(timedelta(days=8))  # overdue, first reminder
    paid = await tp.http.post(f"/v1/invoices/{invoice['id']}/payments", headers=billing.admin,
                              json={"amount": "450.00", "payment_method": "check"})
    assert paid.status_code == 201
    await signal_ending(worker.client, handle, InvoiceWorkflow.event, InvoiceEvent(kind="payment_recorded"))
    assert await handle.result() == "paid"
    assert await events(tp, invoice["id"]) == ["created", "sent", "mailed", "overdue", "reminder_7", "payment",
                                               "paid"]
