"""POST /v1/webhooks/stripe: signatures (SDK-verified, tolerance, several v1), one effect per event id even
when delivered twice at once, and events in any order."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from sqlalchemy import func, select

from domain.invoice.models import InvoicePayment
from domain.webhook.ledger import find
from domain.webhook.models import InboundWebhook
from integrations.payments import InvalidWebhook, StripePayments
from sandboxes.payments import signature_header
from tests.billing.conftest import pay, problem
from tests.billing.test_invoice import create, get, send
from tests.foundation.conftest import sql
from orchestration import ids

URL = "/v1/webhooks/stripe"


def event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_test_{uuid.uuid4().hex}", "object": "event", "type": kind,
            "created": int(time.time()), "livemode": False, "data": {"object": obj}}


def intent(invoice_id: str, intent_id: str, cents: int = 45000, status: str = "succeeded") -> dict:
    return {"id": intent_id, "object": "payment_intent", "amount": cents,
            "amount_received": cents if status == "succeeded" else 0, "currency": "usd", "status": status,
            "metadata": {"invoice_id": invoice_id},
            "last_payment_error": None if status == "succeeded" else {"message": "Your card was declined."}}


def completed_session(invoice_id: str, intent_id: str, cents: int = 45000) -> dict:
    return {"id": f"cs_test_{uuid.uuid4().hex}", "object": "checkout.session", "payment_status": "paid",
            "status": "complete", "payment_intent": intent_id, "amount_total": cents, "currency": "usd",
            "metadata": {"invoice_id": invoice_id}}


def signed(tp, body: dict | str, secrets: list[str] | None = None, timestamp: int | None = None
           ) -> tuple[bytes, dict]:
    payload = body if isinstance(body, str) else json.dumps(body)
    header = signature_header(payload, secrets or [tp.settings.stripe_webhook_secret],
                              int(time.time()) if timestamp is None else timestamp)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


async def post(tp, body: dict | str, **kwargs):
    payload, headers = signed(tp, body, **kwargs)
    return await tp.http.post(URL, content=payload, headers=headers)


async def stored(tp, event_id: str | None = None) -> int:
    """Rows for this event id; every row without one."""
    async with tp.state.sessionmaker() as session:
        query = select(func.count()).select_from(InboundWebhook).where(InboundWebhook.source == "stripe")
        return await session.scalar(query if event_id is None else query.where(InboundWebhook.event_id == event_id))


async def completed_payments(tp, invoice_id: str) -> int:
    async with tp.state.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(InvoicePayment).where(
            InvoicePayment.invoice_id == uuid.UUID(invoice_id), InvoicePayment.status == "completed"))


async def test_bad_or_stale_signatures_are_400_and_record_nothing(tp, billing):
    invoice = await create(tp, billing)
    body = event("payment_intent.succeeded", intent(invoice["id"], "pi_test_bad"))
    payload, headers = signed(tp, body)
    cases = [
        {},  # no header
        {"Stripe-Signature": "garbage"},
        {"Stripe-Signature": headers["Stripe-Signature"].replace("v1=", "v0=")},
        signed(tp, body, secrets=["whsec_someone_else"])[1],
        signed(tp, body, timestamp=int(time.time()) - 301)[1],  # outside the 300 s tolerance
    ]
    for case in cases:
        problem(await tp.http.post(URL, content=payload, headers=case), 400, "validation")
    # A valid signature over other bytes: the body was tampered with.
    problem(await tp.http.post(URL, content=payload.replace(b"45000", b"4500"), headers=headers), 400)
    problem(await tp.http.post(URL, content=b"\xff\xfe", headers=signed(tp, body)[1]), 400)
    # Signed, but not an event.
    problem(await post(tp, {"hello": "world"}), 400)
    assert await stored(tp, body["id"]) == 0 and await completed_payments(tp, invoice["id"]) == 0


async def test_any_matching_v1_passes_during_a_secret_rotation(tp, billing, payments):
    invoice = await create(tp, billing)
    await send(tp, billing, invoice["id"])
    # Stripe signs with every active secret while one is rolled: one v1 per secret in the same header.
    body = event("payment_intent.succeeded", intent(invoice["id"], "pi_test_rotation"))
    response = await post(tp, body, secrets=["whsec_new_not_yet_configured", tp.settings.stripe_webhook_secret])
    assert response.status_code == 200, response.text
    assert response.json()["data"]["outcome"] == "payment_recorded"
    assert (await get(tp, billing.admin, invoice["id"]))["status"] == "paid"


def test_the_previous_secret_is_accepted_while_configured():
    """Our side of a rotation: STRIPE_WEBHOOK_PREVIOUS_SECRET keeps old-secret deliveries verifying."""
    payments = StripePayments("sk_test_x", None, ["whsec_new", "whsec_old"])
    payload = json.dumps(event("ping", {"id": "x"}))
    assert payments.verify_webhook(payload.encode(), signature_header(payload, ["whsec_old"], int(time.time())))
    with pytest.raises(InvalidWebhook):
        StripePayments("sk_test_x", None, ["whsec_new"]).verify_webhook(
            payload.encode(), signature_header(payload, ["whsec_old"], int(time.time())))


async def test_the_same_event_delivered_concurrently_records_one_payment(tp, billing, payments):
    invoice = await create(tp, billing)
    await send(tp, billing, invoice["id"])
    body = event("payment_intent.succeeded", intent(invoice["id"], "pi_test_dup_" + uuid.uuid4().hex[:8]))
    payload, headers = signed(tp, body)
    responses = await asyncio.gather(*(tp.http.post(URL, content=payload, headers=headers) for _ in range(8)))
    assert [r.status_code for r in responses] == [200] * 8
    assert sorted(r.json()["data"]["duplicate"] for r in responses) == [False] + [True] * 7
    assert await stored(tp, body["id"]) == 1 and await completed_payments(tp, invoice["id"]) == 1
    final = await get(tp, billing.admin, invoice["id"])
    assert final["amount_paid"] == 450.00 and final["status"] == "paid"


async def test_events_in_any_order_record_the_payment_once(tp, billing, payments):
    invoice = await create(tp, billing)
    await send(tp, billing, invoice["id"])
    intent_id = "pi_test_order_" + uuid.uuid4().hex[:8]
    # The session's completion first, then the intent's success, then a stale failure of the same intent.
    first = await post(tp, event("checkout.session.completed", completed_session(invoice["id"], intent_id)))
    assert first.json()["data"]["outcome"] == "payment_recorded"
    second = await post(tp, event("payment_intent.succeeded", intent(invoice["id"], intent_id)))
    assert second.json()["data"]["outcome"] == "payment_already_recorded"
    late_failure = await post(tp, event("payment_intent.payment_failed",
                                         intent(invoice["id"], intent_id, status="requires_payment_method")))
    assert late_failure.json()["data"]["outcome"] == "payment_failed"
    final = await get(tp, billing.admin, invoice["id"])
    assert final["status"] == "paid" and final["amount_paid"] == 450.00
    assert sorted(p["status"] for p in final["payments"]) == ["completed", "failed"]
    handle = tp.temporal.get_workflow_handle(ids.invoice(uuid.UUID(invoice["id"])))
    assert await asyncio.wait_for(handle.result(), 10) == "paid"
    assert not [m for m in await tp.mail_to(billing.client["email"]) if "did not go through" in m["subject"]]


async def test_a_redelivered_event_from_the_sandbox_changes_nothing(tp, billing, payments):
    invoice = await create(tp, billing)
    sent = await send(tp, billing, invoice["id"])
    await pay(payments, sent["payment_link"])
    succeeded = [e for e in payments.events.values() if e["type"] == "payment_intent.succeeded"
                 and e["data"]["object"]["metadata"].get("invoice_id") == invoice["id"]]
    payments.resend(succeeded[0]["id"])
    payments.resend(succeeded[0]["id"])
    await payments.drain()
    assert await completed_payments(tp, invoice["id"]) == 1


async def test_unknown_invoices_and_other_event_types_are_acknowledged(tp):
    unknown = await post(tp, event("payment_intent.succeeded", intent(str(uuid.uuid4()), "pi_test_unknown")))
    assert unknown.status_code == 200 and unknown.json()["data"]["outcome"] == "unknown_invoice"
    other = await post(tp, event("customer.created", {"id": "cus_1", "object": "customer"}))
    assert other.status_code == 200 and other.json()["data"]["outcome"] == "ignored_type"


async def test_many_payments_on_one_invoice_each_recorded(tp, billing):
    """60 one-cent payments, sequentially: each pooled connection runs the insert more than five times, so
    psycopg prepares it (a bound partial-index predicate once broke exactly there)."""
    invoice = await create(tp, billing)
    for n in range(60):
        response = await post(tp, event("payment_intent.succeeded", intent(invoice["id"], f"pi_test_many_{n}", cents=1)))
        assert response.status_code == 200 and response.json()["data"]["outcome"] == "payment_recorded"
    assert await completed_payments(tp, invoice["id"]) == 60
    assert (await get(tp, billing.admin, invoice["id"]))["amount_paid"] == 0.60


def _metadata(obj: dict, metadata) -> dict:
    return {**obj, "metadata": metadata}


def _failed(invoice_id: str, cents: int = 45000) -> dict:
    return intent(invoice_id, f"pi_test_{uuid.uuid4().hex}", cents, status="requires_payment_method")


UNREADABLE = "payment_intent.succeeded", intent(str(uuid.uuid4()), "pi_test_unreadable")


@pytest.mark.parametrize("payload, error", [
    ("[" * 100_000 + "]" * 100_000, "too_deep"),
    (json.dumps(event(*UNREADABLE)).replace('"amount": 45000', '"amount": 1' + "0" * 5000), "out_of_range"),
    (json.dumps(event(*UNREADABLE, event_id="evt_\u0000")), "invalid_format"),
    (json.dumps(event(*UNREADABLE, event_id="evt_\ud800")), "invalid_format"),
    (json.dumps(event(UNREADABLE[0], {**UNREADABLE[1], "id": "pi_\ud800"})), "invalid_format"),
    (json.dumps(event(UNREADABLE[0], {**UNREADABLE[1], "id": "pi_\u0000"})), "invalid_format"),
    (json.dumps(event(*UNREADABLE, event_id="evt_" + "x" * 252)), "invalid_format"),  # 256 characters
    (json.dumps(event("x" * 101, UNREADABLE[1])), "invalid_format"),
], ids=["nested_100000", "int_5000_digits", "nul_event_id", "surrogate_event_id", "surrogate_object_id",
        "nul_object_id", "event_id_256", "type_101"])
async def test_a_signed_body_we_cannot_read_or_store_is_a_400_and_records_nothing(tp, payload, error):
    before = await stored(tp)
    body = problem(await post(tp, payload), 400, "validation")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("body", error)]
    assert await stored(tp) == before


@pytest.mark.parametrize("build, outcome, names_invoice, payments", [
    (lambda inv: event("payment_intent.succeeded", _metadata(intent(inv, "pi_test_m"), [1])),
     "ignored_no_invoice", False, []),
    (lambda inv: event("checkout.session.completed", _metadata(completed_session(inv, "pi_test_m"), "x")),
     "ignored_no_invoice", False, []),
    (lambda inv: event("payment_intent.payment_failed", _metadata(_failed(inv), [1])),
     "ignored_no_invoice", False, []),
    (lambda inv: event("payment_intent.payment_failed", {**_failed(inv), "last_payment_error": "x"}),
     "payment_failed", True, [("failed", None)]),
    (lambda inv: event("payment_intent.payment_failed", {**_failed(inv), "last_payment_error": {"message": 1}}),
     "payment_failed", True, [("failed", None)]),
    (lambda inv: event("payment_intent.succeeded", intent(inv, f"pi_test_{uuid.uuid4().hex}", 10**20)),
     "ignored_amount_out_of_range", True, []),
    (lambda inv: event("checkout.session.completed", completed_session(inv, f"pi_test_{uuid.uuid4().hex}", 10**20)),
     "ignored_amount_out_of_range", True, []),
    (lambda inv: event("payment_intent.payment_failed", _failed(inv, 10**20)),
     "ignored_amount_out_of_range", True, []),
    (lambda inv: event("payment_intent.succeeded", intent(inv, "pi_" + "x" * 253)),
     "ignored_malformed", True, []),
    (lambda inv: {**event("payment_intent.succeeded", intent(inv, f"pi_test_{uuid.uuid4().hex}")), "created": 10**20},
     "payment_recorded", True, [("completed", None)]),
    (lambda inv: event("payment_intent.succeeded", intent(inv, f"pi_test_{uuid.uuid4().hex}", 0)),
     "ignored_malformed", True, []),
    (lambda inv: event("payment_intent.succeeded", {**intent(inv, f"pi_test_{uuid.uuid4().hex}"), "currency": "eur"}),
     "ignored_currency_mismatch", True, []),
    (lambda inv: event("checkout.session.completed",
                       {**completed_session(inv, f"pi_test_{uuid.uuid4().hex}"), "currency": "EUR"}),
     "ignored_currency_mismatch", True, []),
], ids=["metadata_list_succeeded", "metadata_string_session", "metadata_list_failed", "error_string",
        "error_message_number", "amount_1e20_succeeded", "amount_1e20_session", "amount_1e20_failed",
        "intent_id_256", "created_1e20", "amount_zero", "currency_eur_intent", "currency_eur_session"])
async def test_a_signed_but_odd_event_is_stored_with_its_outcome(tp, billing, build, outcome, names_invoice,
                                                                 payments):
    """Answered 200, so Stripe does not retry for days what can never apply; amount_paid stays the sum of the
    completed payments."""
    invoice = await create(tp, billing)
    body = build(invoice["id"])
    response = await post(tp, body)
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {"event_id": body["id"], "duplicate": False, "outcome": outcome}
    async with tp.state.sessionmaker() as session:
        row = await find(session, "stripe", body["id"])
    assert (row.outcome, row.entity_id) == (outcome, uuid.UUID(invoice["id"]) if names_invoice else None)
    final = await get(tp, billing.admin, invoice["id"])
    assert [(p["status"], p["failure_message"]) for p in final["payments"]] == payments
    assert final["amount_paid"] == (450.00 if outcome == "payment_recorded" else 0)


async def test_a_payment_that_would_carry_amount_paid_past_the_column_is_not_applied(tp, billing):
    invoice = await create(tp, billing)
    largest = await post(tp, event("payment_intent.succeeded",
                                    intent(invoice["id"], "pi_test_max", 99_999_999_999_999)))
    assert largest.json()["data"]["outcome"] == "payment_recorded"
    one_more = await post(tp, event("payment_intent.succeeded", intent(invoice["id"], "pi_test_max_plus", 1)))
    assert one_more.status_code == 200 and one_more.json()["data"]["outcome"] == "ignored_amount_out_of_range"
    final = await get(tp, billing.admin, invoice["id"])
    assert final["amount_paid"] == 999_999_999_999.99 and len(final["payments"]) == 1


async def test_money_the_invoice_does_not_bill_is_recorded_and_the_firm_told_to_refund_it(tp, billing, payments):
    """A card payment on a void invoice, or past an invoice's total: recorded (money moved), audited as a refund
    due, and mailed to the firm's admins and EA/CPAs, since no invoice workflow runs to do it."""
    [(admin_email,)] = await sql(tp, "SELECT email FROM users WHERE id = :u", u=billing.admin_id)
    void = await create(tp, billing)
    assert (await tp.http.post(f"/v1/invoices/{void['id']}/void", headers=billing.admin)).status_code == 200
    paid_void = await post(tp, event("payment_intent.succeeded", intent(void["id"], f"pi_test_{uuid.uuid4().hex}")))
    assert paid_void.json()["data"]["outcome"] == "payment_recorded"
    notice = await tp.wait_for_mail(admin_email)
    assert notice["subject"] == f"Refund due: invoice {void['invoice_number']} received 450.00 it does not bill"
    assert "the invoice was void" in notice["text"]

    sent = await create(tp, billing)
    await send(tp, billing, sent["id"])
    overpaid = await post(tp, event("payment_intent.succeeded",
                                    intent(sent["id"], f"pi_test_{uuid.uuid4().hex}", cents=50_000)))
    assert overpaid.json()["data"]["outcome"] == "payment_recorded"
    assert (await get(tp, billing.admin, sent["id"]))["balance_due"] == -50.00
    again = await post(tp, event("payment_intent.succeeded", intent(sent["id"], f"pi_test_{uuid.uuid4().hex}", 2_000)))
    assert again.json()["data"]["outcome"] == "payment_recorded"  # 20.00 more owed back, not 70.00
    refunds = await sql(tp, "SELECT resource_id, details->>'amount' FROM audit_log WHERE action = 'invoice.refund_due' "
                            "AND firm_id = :f ORDER BY occurred_at", f=billing.firm_id)
    assert refunds == [(void["id"], "450.00"), (sent["id"], "50.00"), (sent["id"], "20.00")]



async def test_the_ledger_keeps_the_event_without_its_secrets(tp, billing, payments):
    """The row names the firm and the invoice; Stripe's client_secret (which completes a payment) and the card's
    fingerprint are not kept (domain/webhook/redaction.py)."""
    invoice = await create(tp, billing)
    await send(tp, billing, invoice["id"])
    intent_id = f"pi_test_{uuid.uuid4().hex}"
    obj = {**intent(invoice["id"], intent_id), "client_secret": f"{intent_id}_secret_abc",
           "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "fingerprint": "Xt5EWLLDS7FJjR1c"}}}
    body = event("payment_intent.succeeded", obj)
    assert (await post(tp, body)).json()["data"]["outcome"] == "payment_recorded"
    async with tp.state.sessionmaker() as session:
        row = await find(session, "stripe", body["id"])
    assert (row.firm_id, row.entity_type, row.entity_id, row.signature) == (
        billing.firm_id, "invoice", uuid.UUID(invoice["id"]), "stripe_sdk")
    kept = row.payload["data"]["object"]
    assert kept["client_secret"] == "[redacted]" and kept["id"] == intent_id
    assert kept["payment_method_details"]["card"] == {"brand": "visa", "last4": "4242", "fingerprint": "[redacted]"}
    assert f"{intent_id}_secret" not in json.dumps(row.payload)


async def test_one_firm_cannot_take_another_firms_payment_intent(tp, billing, payments):
    """A PaymentIntent is recorded once per firm (issue 13, low): a manual payment in one firm naming an intent id
    must not turn another firm's real Stripe payment with that id into `payment_already_recorded`."""
    from tests.billing.conftest import Billing
    from tests.billing.test_invoice import create, send

    other_firm = await tp.new_firm("Other billing firm")
    other_admin_id, other_admin = await tp.staff_session(other_firm, "admin")
    other = Billing(other_firm, other_admin_id, other_admin, await tp.new_client(other_admin))
    squatted = await create(tp, other)
    await send(tp, other, squatted["id"])
    intent_id = f"pi_shared_{uuid.uuid4().hex[:8]}"
    manual = await tp.http.post(f"/v1/invoices/{squatted['id']}/payments", headers=other_admin,
                                json={"amount": "1.00", "payment_method": "check",
                                      "stripe_payment_intent_id": intent_id})
    assert manual.status_code == 201, manual.text

    invoice = await create(tp, billing)
    response = await post(tp, event("payment_intent.succeeded", intent(invoice["id"], intent_id)))
    assert response.status_code == 200, response.text
    assert response.json()["data"]["outcome"] == "payment_recorded"
    assert await completed_payments(tp, invoice["id"]) == 1
