"""Invoices through HTTP: drafts, numbers, money, sending through Stripe (the SDK against the payments
sandbox), paying in the sandbox, the signed webhook, payments, voiding and permissions."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import date, timedelta

from sqlalchemy import func, select

from domain.invoice.models import InvoiceHistory
from tests.billing.conftest import client_headers, new_return, pay, problem
from tests.support import api_without_temporal
from orchestration import ids

ITEMS = [{"description": "2026 Individual Tax Return (1040)", "quantity": 1, "unit_price": "400.00"},
         {"description": "Schedule C - Business Income", "quantity": 1, "unit_price": 50.00}]


async def create(tp, billing, **fields) -> dict:
    body = {"client_id": billing.client["id"], "line_items": ITEMS, **fields}
    response = await tp.http.post("/v1/invoices", json=body, headers=billing.admin)
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def send(tp, billing, invoice_id: str) -> dict:
    response = await tp.http.post(f"/v1/invoices/{invoice_id}/send", headers=billing.admin)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def get(tp, headers, invoice_id: str) -> dict:
    response = await tp.http.get(f"/v1/invoices/{invoice_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_create_send_pay_in_sandbox_webhook_paid(tp, billing, payments):
    """The whole path: create → send (Stripe SDK → sandbox) → pay on the pay page → signed webhook → paid."""
    invoice = await create(tp, billing)
    assert invoice["status"] == "draft" and re.fullmatch(r"INV-\d{4}-\d{5}", invoice["invoice_number"])
    assert invoice["total"] == 450.00 and invoice["balance_due"] == 450.00 and invoice["payments"] == []

    sent = await send(tp, billing, invoice["id"])
    assert sent["status"] == "sent" and sent["sent_at"]
    assert sent["payment_link"].startswith(f"{tp.settings.stripe_api_base}/pay/cs_test_")
    # Due in 30 days by default.
    assert sent["due_date"] == (date.today() + timedelta(days=30)).isoformat()
    session = payments.sessions[sent["payment_link"].rsplit("/", 1)[1]]
    assert session["amount_total"] == 45000 and session["metadata"]["invoice_id"] == invoice["id"]
    assert session["_payment_intent_data"]["metadata"]["invoice_id"] == invoice["id"]
    created = [r for r in payments.requests if r["path"] == "/v1/checkout/sessions"
               and r["idempotency_key"].startswith(f"invoice:{invoice['id']}:checkout:")]
    assert len(created) == 1
    mail = await tp.wait_for_mail(billing.client["email"])
    assert invoice["invoice_number"] in mail["subject"] and sent["payment_link"] in mail["text"]

    paid = await pay(payments, sent["payment_link"])
    assert paid["outcome"] == "paid"
    intent_id = paid["payment_intent"]["id"]

    handle = tp.temporal.get_workflow_handle(ids.invoice(uuid.UUID(invoice["id"])))
    assert await asyncio.wait_for(handle.result(), 10) == "paid"
    final = await get(tp, billing.admin, invoice["id"])
    assert final["status"] == "paid" and final["paid_at"]
    assert final["amount_paid"] == 450.00 and final["balance_due"] == 0.00
    assert [(p["amount"], p["status"], p["stripe_payment_intent_id"]) for p in final["payments"]] == [
        (450.00, "completed", intent_id)]
    listed = (await tp.http.get(f"/v1/invoices/{invoice['id']}/payments", headers=billing.admin)).json()
    assert listed["meta"]["total_paid"] == 450.00 and listed["meta"]["balance_due"] == 0.00
    # Both events arrived (payment_intent.succeeded and checkout.session.completed): one payment.
    assert {d["type"] for d in payments.deliveries if d["status"] == 200} >= {
        "payment_intent.succeeded", "checkout.session.completed"}
    # The client sees their own paid invoice.
    own = await get(tp, await client_headers(tp, billing.client["email"]), invoice["id"])
    assert own["status"] == "paid"


async def test_money_is_exact_decimal_and_bad_amounts_are_400(tp, billing):
    invoice = await create(tp, billing, line_items=[
        {"description": "Bookkeeping", "quantity": 3, "unit_price": "33.33"},
        {"description": "Filing fee", "quantity": 1, "unit_price": 0.1}])
    raw = (await tp.http.get(f"/v1/invoices/{invoice['id']}", headers=billing.admin)).text
    assert '"total":100.09' in raw and '"unit_price":33.33' in raw and '"amount":99.99' in raw
    for bad in ("-1.00", "10.001", 1.005, "abc", "NaN"):
        response = await tp.http.post("/v1/invoices", headers=billing.admin, json={
            "client_id": billing.client["id"], "line_items": [{"description": "x", "quantity": 1, "unit_price": bad}]})
        problem(response, 400, "validation")
    problem(await tp.http.post("/v1/invoices", headers=billing.admin, json={
        "client_id": billing.client["id"], "line_items": []}), 400)
    # Every price fits NUMERIC(14,2), but quantities multiply the total past it: a 400, not a failed INSERT.
    too_much = [{"description": "x", "quantity": 10_000, "unit_price": "999999999999.99"}]
    problem(await tp.http.post("/v1/invoices", headers=billing.admin, json={
        "client_id": billing.client["id"], "line_items": too_much}), 400, "validation")
    problem(await tp.http.patch(f"/v1/invoices/{invoice['id']}", headers=billing.admin,
                                json={"line_items": too_much}), 400, "validation")
    problem(await tp.http.post("/v1/invoices", headers=billing.admin, json={
        "client_id": billing.client["id"], "line_items": ITEMS, "due_date": "2020-01-01"}), 422)


async def test_a_due_date_is_from_today_to_a_year_ahead_and_a_string(tp, billing):
    """9999-12-31 used to be accepted and sent, and the workflow then overflowed computing its reminders."""
    invoice = await create(tp, billing)
    latest = date.today() + timedelta(days=365)
    for due_date in ("9999-12-31", (latest + timedelta(days=1)).isoformat()):
        refused = problem(await tp.http.post("/v1/invoices", headers=billing.admin, json={
            "client_id": billing.client["id"], "line_items": ITEMS, "due_date": due_date}), 400, "validation")
        assert refused["errors"] == [{"field": "due_date", "code": "out_of_range",
                                      "message": f"due_date must be from {date.today()} to {latest}"}]
        problem(await tp.http.patch(f"/v1/invoices/{invoice['id']}", headers=billing.admin,
                                    json={"due_date": due_date}), 400, "validation")
    for due_date in (0, 1_900_000_000, f"{latest}T00:00:00Z"):
        problem(await tp.http.post("/v1/invoices", headers=billing.admin, json={
            "client_id": billing.client["id"], "line_items": ITEMS, "due_date": due_date}), 400, "validation")
    listed = (await tp.http.get("/v1/invoices", params={"client_id": billing.client["id"]},
                                headers=billing.admin)).json()
    assert listed["pagination"]["total_count"] == 1 and listed["data"][0]["due_date"] is None
    assert (await create(tp, billing, due_date=latest.isoformat()))["due_date"] == latest.isoformat()


async def test_numbers_are_gapless_and_unique_under_concurrency(tp, billing):
    bodies = [{"client_id": billing.client["id"], "line_items": ITEMS} for _ in range(12)]
    # A request that fails after validation (unknown return) sits among them: its number is not used.
    bodies.insert(5, {"client_id": billing.client["id"], "line_items": ITEMS, "return_id": str(uuid.uuid4())})
    responses = await asyncio.gather(*(tp.http.post("/v1/invoices", json=b, headers=billing.admin) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201] * 12 + [422]
    numbers = sorted(r.json()["data"]["invoice_number"] for r in responses if r.status_code == 201)
    year = date.today().year
    assert numbers == [f"INV-{year}-{n:05d}" for n in range(1, 13)]


async def test_only_drafts_change(tp, billing, payments):
    invoice = await create(tp, billing)
    patched = await tp.http.patch(f"/v1/invoices/{invoice['id']}", headers=billing.admin, json={
        "line_items": [{"description": "Return", "quantity": 2, "unit_price": "300.00"}]})
    assert patched.status_code == 200 and patched.json()["data"]["total"] == 600.00
    await send(tp, billing, invoice["id"])
    problem(await tp.http.patch(f"/v1/invoices/{invoice['id']}", headers=billing.admin,
                                json={"due_date": "2030-01-31"}), 422, "invoice_not_draft")
    problem(await tp.http.post(f"/v1/invoices/{invoice['id']}/send", headers=billing.admin), 422,
            "invoice_not_draft")


async def test_return_must_belong_to_the_client(tp, billing):
    other = await tp.new_client(billing.admin)
    own_return = await new_return(tp, billing.firm_id, billing.client["id"])
    other_return = await new_return(tp, billing.firm_id, other["id"])
    assert (await create(tp, billing, return_id=str(own_return)))["return_id"] == str(own_return)
    problem(await tp.http.post("/v1/invoices", headers=billing.admin, json={
        "client_id": billing.client["id"], "line_items": ITEMS, "return_id": str(other_return)}), 422)
    listed = (await tp.http.get("/v1/invoices", params={"return_id": str(own_return)}, headers=billing.admin)).json()
    assert [i["return_id"] for i in listed["data"]] == [str(own_return)]


async def test_permissions_and_visibility(tp, billing):
    invoice = await create(tp, billing)
    _, preparer = await tp.staff_session(billing.firm_id, "preparer")
    _, reviewer = await tp.staff_session(billing.firm_id, "reviewer")
    _, ea_cpa = await tp.staff_session(billing.firm_id, "ea_cpa")
    body = {"client_id": billing.client["id"], "line_items": ITEMS}
    problem(await tp.http.post("/v1/invoices", json=body, headers=preparer), 403)
    problem(await tp.http.post("/v1/invoices", json=body, headers=reviewer), 403)
    assert (await tp.http.post("/v1/invoices", json=body, headers=ea_cpa)).status_code == 201
    assert (await tp.http.get(f"/v1/invoices/{invoice['id']}", headers=reviewer)).status_code == 200
    # A preparer sees the invoices of assigned clients only: this client is not theirs.
    problem(await tp.http.get(f"/v1/invoices/{invoice['id']}", headers=preparer), 404)
    problem(await tp.http.post(f"/v1/invoices/{invoice['id']}/payments", headers=reviewer,
                               json={"amount": "1.00", "payment_method": "cash"}), 403)
    # Another firm's admin: 404, as for an invoice that does not exist.
    other_firm = await tp.new_firm()
    _, stranger = await tp.staff_session(other_firm, "admin")
    problem(await tp.http.get(f"/v1/invoices/{invoice['id']}", headers=stranger), 404)
    problem(await tp.http.post("/v1/invoices", json=body, headers=stranger), 422)
    assert (await tp.http.get("/v1/invoices", headers=stranger)).json()["data"] == []
    # A client sees their own invoices only, and cannot bill.
    mine = await client_headers(tp, billing.client["email"])
    other = await tp.new_client(billing.admin)
    other_invoice = await create(tp, billing, client_id=other["id"])
    assert (await tp.http.get(f"/v1/invoices/{invoice['id']}", headers=mine)).status_code == 200
    problem(await tp.http.get(f"/v1/invoices/{other_invoice['id']}", headers=mine), 404)
    listed = (await tp.http.get("/v1/invoices", headers=mine)).json()["data"]
    assert {i["client_id"] for i in listed} == {billing.client["id"]}
    problem(await tp.http.post("/v1/invoices", json=body, headers=mine), 403)


async def test_manual_payments_add_up_and_never_exceed_the_balance(tp, billing, payments):
    invoice = await create(tp, billing)
    problem(await tp.http.post(f"/v1/invoices/{invoice['id']}/payments", headers=billing.admin,
                               json={"amount": "10.00", "payment_method": "check"}), 422, "invoice_not_open")
    await send(tp, billing, invoice["id"])
    url = f"/v1/invoices/{invoice['id']}/payments"
    first = await tp.http.post(url, headers=billing.admin, json={"amount": "100.25", "payment_method": "check"})
    assert first.status_code == 201 and first.json()["data"]["amount"] == 100.25
    assert (await get(tp, billing.admin, invoice["id"]))["status"] == "partially_paid"
    problem(await tp.http.post(url, headers=billing.admin, json={"amount": "349.76", "payment_method": "cash"}),
            422, "exceeds_balance")
    for bad in ("0", "-5.00", "1.001"):
        problem(await tp.http.post(url, headers=billing.admin, json={"amount": bad, "payment_method": "cash"}), 400)
    # Concurrent payments that together exceed the balance: the row lock lets only those that fit through.
    results = await asyncio.gather(*(tp.http.post(url, headers=billing.admin, json={
        "amount": "200.00", "payment_method": "ach"}) for _ in range(3)))
    assert sorted(r.status_code for r in results) == [201, 422, 422]
    last = await tp.http.post(url, headers=billing.admin, json={"amount": "149.75", "payment_method": "wire"})
    assert last.status_code == 201
    final = await get(tp, billing.admin, invoice["id"])
    assert final["status"] == "paid" and final["amount_paid"] == 450.00 and final["balance_due"] == 0.00
    assert sum(p["amount"] for p in final["payments"]) == 450.00
    handle = tp.temporal.get_workflow_handle(ids.invoice(uuid.UUID(invoice["id"])))
    assert await asyncio.wait_for(handle.result(), 10) == "paid"


async def test_void_stops_the_workflow_and_closes_the_payment_link(tp, billing, payments):
    invoice = await create(tp, billing)
    sent = await send(tp, billing, invoice["id"])
    voided = await tp.http.post(f"/v1/invoices/{invoice['id']}/void", headers=billing.admin)
    assert voided.status_code == 200 and voided.json()["data"]["status"] == "void"
    handle = tp.temporal.get_workflow_handle(ids.invoice(uuid.UUID(invoice["id"])))
    assert await asyncio.wait_for(handle.result(), 10) == "void"
    assert payments.sessions[sent["payment_link"].rsplit("/", 1)[1]]["status"] == "expired"
    problem(await tp.http.post(f"/v1/invoices/{invoice['id']}/void", headers=billing.admin), 422)
    problem(await tp.http.post(f"/v1/invoices/{invoice['id']}/payments", headers=billing.admin,
                               json={"amount": "1.00", "payment_method": "cash"}), 422)
    # A draft is voided without any workflow.
    draft = await create(tp, billing)
    assert (await tp.http.post(f"/v1/invoices/{draft['id']}/void", headers=billing.admin)).status_code == 200


async def test_a_void_the_workflow_cannot_hear_of_is_refused_and_changes_nothing(tp, billing, payments):
    """The workflow closes the payment link: a void committed without telling it would leave the invoice payable."""
    invoice = await create(tp, billing)
    sent = await send(tp, billing, invoice["id"])
    async with api_without_temporal(tp) as cut_off:
        problem(await cut_off.post(f"/v1/invoices/{invoice['id']}/void", headers=billing.admin), 503, "unavailable")
    assert (await get(tp, billing.admin, invoice["id"]))["status"] == "sent"
    assert payments.sessions[sent["payment_link"].rsplit("/", 1)[1]]["status"] == "open"
    voided = await tp.http.post(f"/v1/invoices/{invoice['id']}/void", headers=billing.admin)  # Temporal is back
    assert voided.status_code == 200, voided.text
    handle = tp.temporal.get_workflow_handle(ids.invoice(uuid.UUID(invoice["id"])))
    assert await asyncio.wait_for(handle.result(), 10) == "void"


async def test_stripe_outage_during_send_is_retried_and_sends_once(tp, billing, payments):
    invoice = await create(tp, billing)
    payments.outage_requests = 2  # the next two API calls answer 503
    sent = await send(tp, billing, invoice["id"])
    assert sent["status"] == "sent"
    attempts = [r for r in payments.requests
                if r["idempotency_key"] and r["idempotency_key"].startswith(f"invoice:{invoice['id']}:checkout:")]
    assert len(attempts) == 3 and [a.get("outage", False) for a in attempts] == [True, True, False]
    assert len({a["idempotency_key"] for a in attempts}) == 1
    sessions = [s for s in payments.sessions.values() if s["metadata"].get("invoice_id") == invoice["id"]]
    assert len(sessions) == 1
    async with tp.state.sessionmaker() as session:
        mailed = await session.scalar(select(func.count()).select_from(InvoiceHistory).where(
            InvoiceHistory.invoice_id == uuid.UUID(invoice["id"]), InvoiceHistory.event == "sent"))
    assert mailed == 1


async def test_declined_card_is_recorded_and_the_client_told(tp, billing, payments):
    invoice = await create(tp, billing)
    sent = await send(tp, billing, invoice["id"])
    declined = await pay(payments, sent["payment_link"], card="4000 0000 0000 0002")
    assert declined["outcome"] == "declined"
    for _ in range(100):
        mails = [m for m in await tp.mail_to(billing.client["email"]) if "did not go through" in m["subject"]]
        if mails:
            break
        await asyncio.sleep(0.1)
    assert mails and "Your card was declined." in mails[0]["text"]
    after = await get(tp, billing.admin, invoice["id"])
    assert after["status"] == "sent" and after["amount_paid"] == 0.00
    assert [(p["status"], p["amount"]) for p in after["payments"]] == [("failed", 450.00)]
    # The same session can still be paid with another card.
    await pay(payments, sent["payment_link"])
    handle = tp.temporal.get_workflow_handle(ids.invoice(uuid.UUID(invoice["id"])))
    assert await asyncio.wait_for(handle.result(), 10) == "paid"
