"""Estimated tax payments (§11.6) through HTTP, and their reminder calendar under the time-skipping server.

Tax year 2027 is the calendar under test: its fourth quarter is due January 15, 2028, a Saturday, and
Monday January 17 is Martin Luther King Jr. Day, so the payment is due Tuesday January 18, 2028: a year
boundary, a weekend and a holiday in one date.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, Worker

from activities.collect import activity_methods
from activities.estimated_payment import EstimatedPaymentActivities
from domain.client.models import Client
from domain.estimated_payment.models import EstimatedPaymentReminder
from domain.tax_calendar import estimated_tax_due_dates, legal_holidays, roll_forward
from integrations.notify import Notifier
from tests.billing.conftest import client_headers, new_return, problem, utc
from tests.support import api_without_temporal, deliver, outbox_entries
from orchestration import estimated_payment as schedule_workflow
from orchestration import ids
from orchestration.estimated_payment import ScheduleWorkflowInput
from orchestration.sandbox_runner import LeanSandboxRunner
from workflows.estimated_payment import EstimatedPaymentScheduleWorkflow

QUEUE = "billing-time-skipping-estimates"
# Recorded histories of the schedule's workflow, one per code version (`_v1`: before
# ONE_ACTIVITY_PER_REMINDER_PATCH, `_v2`: with it). After a deliberate, versioned change (workflow.patched),
# record the new version's with RECORD_ESTIMATED_PAYMENT_HISTORIES=<label> and commit it next to the old ones.
HISTORIES = Path(__file__).parent / "histories"
REPLAYER = Replayer(workflows=[EstimatedPaymentScheduleWorkflow], workflow_runner=LeanSandboxRunner(),
                    data_converter=pydantic_data_converter)
SMS_ADDRESS = "15550104477@sms.taxpractice.local"  # the billing fixture's client phone, through the gateway


async def create_schedule(tp, billing, headers=None, tax_year=2027, federal="20000.02", state="6000.00") -> dict:
    return_id = await new_return(tp, billing.firm_id, billing.client["id"])
    response = await tp.http.post(f"/v1/returns/{return_id}/estimated-payments", headers=headers or billing.admin,
                                  json={"tax_year": tax_year, "federal_annual": federal, "state_annual": state,
                                        "payment_method": "equal_quarterly"})
    assert response.status_code == 201, response.text
    return response.json()["data"]


async def _next_reminder(handle):
    """The reminder the schedule's workflow sleeps towards, once it has read its quarters."""
    for _ in range(50):
        upcoming = await handle.query(EstimatedPaymentScheduleWorkflow.next_reminder)
        if upcoming is not None:
            return upcoming
        await asyncio.sleep(0.1)
    raise AssertionError("the workflow planned no reminder")


def test_tax_calendar_rolls_weekends_holidays_and_emancipation_day():
    assert estimated_tax_due_dates(2027) == [date(2027, 4, 15), date(2027, 6, 15), date(2027, 9, 15),
                                             date(2028, 1, 18)]
    # Published IRS dates: 2022 Q1 moved by DC Emancipation Day (observed Friday April 15) to April 18;
    # 2023 Q4 (January 15, 2024) was Martin Luther King Jr. Day → January 16.
    assert estimated_tax_due_dates(2022) == [date(2022, 4, 18), date(2022, 6, 15), date(2022, 9, 15),
                                             date(2023, 1, 17)]
    assert estimated_tax_due_dates(2023)[0] == date(2023, 4, 18) and estimated_tax_due_dates(2023)[3] == date(2024, 1, 16)
    assert estimated_tax_due_dates(2024)[1:3] == [date(2024, 6, 17), date(2024, 9, 16)]  # Saturday, Sunday
    assert date(2021, 12, 31) in legal_holidays(2021)  # New Year's Day 2022 (a Saturday) observed
    assert roll_forward(date(2026, 12, 25)) == date(2026, 12, 28)


async def test_create_schedule_splits_to_the_cent_and_starts_its_workflow(tp, billing):
    schedule = await create_schedule(tp, billing)
    quarters = schedule["payments"]
    assert [q["due_date"] for q in quarters] == ["2027-04-15", "2027-06-15", "2027-09-15", "2028-01-18"]
    assert [q["federal_amount"] for q in quarters] == [5000.01, 5000.01, 5000.00, 5000.00]
    assert [q["state_amount"] for q in quarters] == [1500.00] * 4
    assert {q["status"] for q in quarters} == {"scheduled"} and not any(q["reminder_sent"] for q in quarters)

    handle = tp.temporal.get_workflow_handle(ids.estimated_payment_schedule(uuid.UUID(schedule["id"])))
    upcoming = await _next_reminder(handle)
    assert upcoming.reminder_type == "14_day" and upcoming.fire_at == utc(2027, 4, 1, 14)
    assert (await handle.describe()).status.name == "RUNNING"
    assert await outbox_entries(tp, schedule["id"]) == []  # sent at once, nothing left behind

    listed = (await tp.http.get(f"/v1/returns/{schedule['return_id']}/estimated-payments",
                                headers=billing.admin)).json()["data"]
    assert [q["id"] for q in listed] == [q["id"] for q in quarters]
    problem(await tp.http.post(f"/v1/returns/{schedule['return_id']}/estimated-payments", headers=billing.admin,
                               json={"tax_year": 2027, "federal_annual": "1.00"}), 409)
    for bad in ({"tax_year": 2027, "federal_annual": "-1.00"}, {"tax_year": 2027, "federal_annual": "1.001"},
                {"tax_year": 2027, "federal_annual": "1.00", "payment_method": "annualized"}):
        problem(await tp.http.post(f"/v1/returns/{schedule['return_id']}/estimated-payments",
                                   headers=billing.admin, json=bad), 400)


async def test_a_schedule_saved_while_temporal_is_unreachable_gets_its_workflow_later(tp, billing):
    """Without its workflow a schedule would send no reminder at all: the message that starts it waits in the
    outbox, and the relay (here: its delivery of the entry) starts the workflow once Temporal answers."""
    return_id = await new_return(tp, billing.firm_id, billing.client["id"])
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post(f"/v1/returns/{return_id}/estimated-payments", headers=billing.admin,
                                      json={"tax_year": 2027, "federal_annual": "4000.00"})
    assert response.status_code == 201, response.text  # the schedule is kept
    schedule_id = response.json()["data"]["id"]
    handle = tp.temporal.get_workflow_handle(ids.estimated_payment_schedule(uuid.UUID(schedule_id)))
    with pytest.raises(RPCError) as missing:
        await handle.describe()
    assert missing.value.status == RPCStatusCode.NOT_FOUND

    [entry] = await outbox_entries(tp, schedule_id)
    assert entry.kind == schedule_workflow.CHANGED
    assert await deliver(tp, entry.id)
    assert (await _next_reminder(handle)).fire_at == utc(2027, 4, 1, 14)
    assert await outbox_entries(tp, schedule_id) == []


async def test_permissions(tp, billing):
    preparer_id, preparer = await tp.staff_session(billing.firm_id, "preparer")
    _, reviewer = await tp.staff_session(billing.firm_id, "reviewer")
    own_client = await tp.new_client(billing.admin, assigned_preparer_id=str(preparer_id))
    return_id = await new_return(tp, billing.firm_id, own_client["id"], preparer_id=preparer_id)
    url = f"/v1/returns/{return_id}/estimated-payments"
    body = {"tax_year": 2027, "federal_annual": "4000.00"}
    problem(await tp.http.post(url, headers=reviewer, json=body), 403)
    created = await tp.http.post(url, headers=preparer, json=body)
    assert created.status_code == 201
    first = created.json()["data"]["payments"][0]["id"]
    problem(await tp.http.delete(f"/v1/estimated-payments/{first}", headers=preparer), 403)
    # Someone else's return: 404 for a preparer it is not assigned to and for another firm.
    others = await create_schedule(tp, billing)
    problem(await tp.http.get(f"/v1/returns/{others['return_id']}/estimated-payments", headers=preparer), 404)
    _, stranger = await tp.staff_session(await tp.new_firm(), "admin")
    problem(await tp.http.get(f"/v1/estimated-payments/{first}", headers=stranger), 404)
    problem(await tp.http.post(url, headers=stranger, json=body), 404)
    # The client reads and confirms their own, and nothing else.
    mine = await client_headers(tp, own_client["email"])
    assert (await tp.http.get(url, headers=mine)).status_code == 200
    problem(await tp.http.post(url, headers=mine, json={**body, "tax_year": 2028}), 403)
    problem(await tp.http.get(f"/v1/returns/{others['return_id']}/estimated-payments", headers=mine), 404)
    problem(await tp.http.post(f"/v1/estimated-payments/{first}/remind", headers=mine, json={}), 403)


async def test_a_preparer_assigned_to_the_return_alone_sees_its_estimated_payments(tp, billing):
    """The return's visibility rule is the payments' rule: a preparer assigned to the return (not to its client)
    opens the return, so also its schedule and each quarter; another preparer gets 404 for all three."""
    preparer_id, preparer = await tp.staff_session(billing.firm_id, "preparer")
    _, other_preparer = await tp.staff_session(billing.firm_id, "preparer")
    return_id = await new_return(tp, billing.firm_id, billing.client["id"], preparer_id=preparer_id)
    url = f"/v1/returns/{return_id}/estimated-payments"
    created = await tp.http.post(url, headers=billing.admin, json={"tax_year": 2027, "federal_annual": "4000.00"})
    assert created.status_code == 201, created.text
    first = created.json()["data"]["payments"][0]["id"]

    assert (await tp.http.get(f"/v1/returns/{return_id}", headers=preparer)).status_code == 200
    listed = await tp.http.get(url, headers=preparer)
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["data"]][0] == first
    assert (await tp.http.get(f"/v1/estimated-payments/{first}", headers=preparer)).status_code == 200
    changed = await tp.http.patch(f"/v1/estimated-payments/{first}", headers=preparer,
                                  json={"federal_amount": "1000.00"})
    assert changed.status_code == 200, changed.text

    problem(await tp.http.get(f"/v1/returns/{return_id}", headers=other_preparer), 404)
    problem(await tp.http.get(url, headers=other_preparer), 404)
    problem(await tp.http.get(f"/v1/estimated-payments/{first}", headers=other_preparer), 404)


async def test_confirm_update_cancel_and_remind(tp, billing):
    schedule = await create_schedule(tp, billing)
    q1, q2, q3, _ = (q["id"] for q in schedule["payments"])
    client = await client_headers(tp, billing.client["email"])
    confirmation = {"confirmation_number": "IRS-12345", "payment_date": date.today().isoformat(),
                    "payment_method": "ach"}
    confirmed = await tp.http.post(f"/v1/estimated-payments/{q1}/confirm", headers=client, json=confirmation)
    assert confirmed.status_code == 200 and confirmed.json()["data"]["status"] == "confirmed_paid"
    assert confirmed.json()["data"]["confirmation_number"] == "IRS-12345"
    problem(await tp.http.post(f"/v1/estimated-payments/{q1}/confirm", headers=client, json=confirmation), 409)
    problem(await tp.http.post(f"/v1/estimated-payments/{q2}/confirm", headers=client, json={
        **confirmation, "payment_date": (date.today() + timedelta(days=3)).isoformat()}), 422)
    problem(await tp.http.delete(f"/v1/estimated-payments/{q1}", headers=billing.admin), 422)

    patched = await tp.http.patch(f"/v1/estimated-payments/{q2}", headers=billing.admin,
                                  json={"federal_amount": "6000.00"})
    assert patched.status_code == 200 and patched.json()["data"]["federal_amount"] == 6000.00
    for bad in ({"federal_amount": "-1"}, {"status": "cancelled"}, {"federal_amount": None}, {}):
        problem(await tp.http.patch(f"/v1/estimated-payments/{q2}", headers=billing.admin, json=bad), 400)

    reminded = await tp.http.post(f"/v1/estimated-payments/{q2}/remind", headers=billing.admin,
                                  json={"reminder_type": "14_day", "channels": ["email", "sms"]})
    assert reminded.status_code == 200, reminded.text
    assert reminded.json()["data"]["reminder_sent"] is True and reminded.json()["data"]["channels"] == ["email", "sms"]
    mail = await tp.wait_for_mail(billing.client["email"])
    assert "Q2 2027" in mail["subject"] and "6,000.00" in mail["text"]
    assert "Q2 2027" in (await tp.wait_for_mail(SMS_ADDRESS))["text"]

    assert (await tp.http.delete(f"/v1/estimated-payments/{q3}", headers=billing.admin)).status_code == 204
    assert (await tp.http.delete(f"/v1/estimated-payments/{q3}", headers=billing.admin)).status_code == 204
    problem(await tp.http.patch(f"/v1/estimated-payments/{q3}", headers=billing.admin,
                                json={"state_amount": "1.00"}), 422)
    problem(await tp.http.post(f"/v1/estimated-payments/{q3}/remind", headers=billing.admin, json={}), 422)


async def test_dates_out_of_their_window_are_refused_and_change_nothing(tp, billing):
    """A quarter of 2027 can be due from 2027-01-01 to 2028-12-31 (year 1 or 9999 used to break the schedule's
    workflow for good); a payment of 2027 is not made before 2026. A number is not a date."""
    schedule = await create_schedule(tp, billing)
    q1, q2 = schedule["payments"][0]["id"], schedule["payments"][1]["id"]
    for due_date in ("0001-01-01", "9999-12-31", "2026-12-31", "2029-01-01"):
        refused = problem(await tp.http.patch(f"/v1/estimated-payments/{q1}", headers=billing.admin,
                                              json={"due_date": due_date}), 400)
        assert refused["errors"] == [{"field": "due_date", "code": "out_of_range",
                                      "message": "due_date must be from 2027-01-01 to 2028-12-31"}]
    for due_date in (0, "0", "2027-04-15T00:00:00Z"):
        problem(await tp.http.patch(f"/v1/estimated-payments/{q1}", headers=billing.admin,
                                    json={"due_date": due_date}), 400)
    client = await client_headers(tp, billing.client["email"])
    for payment_date in ("0001-01-01", "2025-12-31"):
        refused = problem(await tp.http.post(f"/v1/estimated-payments/{q2}/confirm", headers=client, json={
            "payment_date": payment_date, "payment_method": "ach"}), 400)
        assert refused["errors"][0]["field"] == "payment_date" and refused["errors"][0]["code"] == "out_of_range"
    unchanged = (await tp.http.get(f"/v1/returns/{schedule['return_id']}/estimated-payments",
                                   headers=billing.admin)).json()["data"]
    assert [(q["due_date"], q["status"]) for q in unchanged] == [(q["due_date"], q["status"])
                                                                  for q in schedule["payments"]]
    moved = await tp.http.patch(f"/v1/estimated-payments/{q1}", headers=billing.admin, json={"due_date": "2028-12-31"})
    assert moved.status_code == 200 and moved.json()["data"]["due_date"] == "2028-12-31"  # the window's last day


async def test_a_stored_address_that_cannot_be_mailed_is_skipped_not_a_500(tp, billing):
    """Request bodies refuse it now, but an address stored before (non-ASCII before the @, which needs SMTPUTF8)
    must not turn a reminder into a 500: the mail is skipped (and logged), the SMS still goes."""
    schedule = await create_schedule(tp, billing)
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(update(Client).where(Client.id == uuid.UUID(billing.client["id"]))
                              .values(email="jürgen@exämple.com"))
    reminded = await tp.http.post(f"/v1/estimated-payments/{schedule['payments'][0]['id']}/remind",
                                  headers=billing.admin, json={"channels": ["email", "sms"]})
    assert reminded.status_code == 200, reminded.text
    assert reminded.json()["data"]["channels"] == ["sms"]


# ---- the calendar under the time-skipping server --------------------------------------------------------------

@pytest.fixture
async def worker(tp, time_skipping):
    activities = EstimatedPaymentActivities(tp.state.sessionmaker,
                                            Notifier(tp.state.mailer, tp.settings.sms_email_domain))
    async with Worker(time_skipping.client, task_queue=QUEUE, workflows=[EstimatedPaymentScheduleWorkflow],
                      activities=activity_methods(activities)):
        yield time_skipping


async def start(env, billing, schedule: dict):
    return await env.client.start_workflow(
        EstimatedPaymentScheduleWorkflow.run,
        ScheduleWorkflowInput(schedule_id=uuid.UUID(schedule["id"]), firm_id=billing.firm_id,
                              client_id=uuid.UUID(billing.client["id"])),
        id=f"ts-{ids.estimated_payment_schedule(uuid.UUID(schedule['id']))}", task_queue=QUEUE)


async def replay_and_maybe_record(handle, name: str) -> None:
    """Replay a live history on today's code; with RECORD_ESTIMATED_PAYMENT_HISTORIES=<label>, keep it."""
    history = await handle.fetch_history()
    await REPLAYER.replay_workflow(history)
    if label := os.environ.get("RECORD_ESTIMATED_PAYMENT_HISTORIES"):
        HISTORIES.mkdir(exist_ok=True)
        (HISTORIES / f"{name}_{label}.json").write_text(json.dumps(json.loads(history.to_json()), indent=1))


async def test_recorded_schedule_histories_replay():
    """Schedules already running keep replaying on today's workflow code."""
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories"
    for path in files:
        await REPLAYER.replay_workflow(WorkflowHistory.from_json(path.stem, json.loads(path.read_text())))


async def reminders(tp, payment_ids: list[str]) -> list[tuple[str, str, datetime]]:
    async with tp.state.sessionmaker() as session:
        rows = await session.execute(select(EstimatedPaymentReminder).where(
            EstimatedPaymentReminder.payment_id.in_([uuid.UUID(i) for i in payment_ids]),
            EstimatedPaymentReminder.scheduled_for.isnot(None)).order_by(EstimatedPaymentReminder.scheduled_for))
        return [(str(r.payment_id), r.reminder_type, r.scheduled_for) for r in rows.scalars()]


async def next_reminder_of(handle, payment_id: str, reminder_type: str = "14_day"):
    """The workflow's plan, once its next reminder is the given one (activities run on the wall clock)."""
    for _ in range(100):
        upcoming = await handle.query(EstimatedPaymentScheduleWorkflow.next_reminder)
        if upcoming and str(upcoming.payment_id) == payment_id and upcoming.reminder_type == reminder_type:
            return upcoming
        await asyncio.sleep(0.05)
    raise AssertionError(f"the next reminder never became {payment_id} {reminder_type}: {upcoming}")


def holiday_year(after: date) -> int:
    """The first tax year starting after `after` whose fourth quarter (January 15 of the next year) is moved
    past a legal holiday, such as 2027 (→ January 18, 2028). The time-skipping server's clock starts at the
    wall clock and only moves forward, so a test picks a year still ahead of it."""
    year = after.year + 1
    while True:
        nominal, due = date(year + 1, 1, 15), estimated_tax_due_dates(year)[3]
        if any(nominal + timedelta(days=n) in legal_holidays(year + 1) for n in range((due - nominal).days + 1)):
            return year
        year += 1


async def test_reminder_calendar_across_the_year_boundary_and_a_holiday(tp, billing, worker):
    """Q2 is paid and Q3 cancelled before their reminders: only Q1 and Q4 are reminded of, 14 days before and
    on the due date, at 14:00 UTC; Q4's due date is in the next year, moved past a weekend and/or holiday."""
    year = holiday_year((await worker.get_current_time()).date())
    due = estimated_tax_due_dates(year)
    schedule = await create_schedule(tp, billing, tax_year=year)
    q1, q2, q3, q4 = (q["id"] for q in schedule["payments"])
    assert schedule["payments"][3]["due_date"] == due[3].isoformat() and due[3] > date(year + 1, 1, 15)
    # Marked paid by staff: the year can be years ahead, where a payment made today would be implausible (400).
    assert (await tp.http.patch(f"/v1/estimated-payments/{q2}", headers=billing.admin,
                                json={"status": "confirmed_paid"})).status_code == 200
    assert (await tp.http.delete(f"/v1/estimated-payments/{q3}", headers=billing.admin)).status_code == 204

    handle = await start(worker, billing, schedule)
    assert await handle.result() == 4  # time skips through every timer; the workflow ends when none is left
    await replay_and_maybe_record(handle, "reminder_calendar")

    def at_two_pm(day: date) -> datetime:
        return utc(day.year, day.month, day.day, 14)

    assert await reminders(tp, [q1, q2, q3, q4]) == [
        (q1, "14_day", at_two_pm(due[0] - timedelta(days=14))), (q1, "due_day", at_two_pm(due[0])),
        (q4, "14_day", at_two_pm(due[3] - timedelta(days=14))), (q4, "due_day", at_two_pm(due[3]))]
    mails = await tp.mail_to(billing.client["email"])
    assert sorted(m["subject"] for m in mails if "Estimated tax" in m["subject"]) == sorted([
        f"Estimated tax payment Q1 {year} is due on {due[0]:%B %-d, %Y}", f"Estimated tax payment Q1 {year} is due today",
        f"Estimated tax payment Q4 {year} is due on {due[3]:%B %-d, %Y}", f"Estimated tax payment Q4 {year} is due today"])
    assert len(await tp.mail_to(SMS_ADDRESS)) >= 4
    listed = (await tp.http.get(f"/v1/estimated-payments/{q4}", headers=billing.admin)).json()["data"]
    assert listed["reminder_sent"] is True and listed["reminder_type"] == "due_day"


async def test_the_workflow_reacts_to_confirmations_updates_and_cancellations(tp, billing, worker):
    year = (await worker.get_current_time()).year + 1
    due = estimated_tax_due_dates(year)
    schedule = await create_schedule(tp, billing, tax_year=year)
    q1, q2, q3, q4 = (q["id"] for q in schedule["payments"])
    handle = await start(worker, billing, schedule)
    await next_reminder_of(handle, q1)  # planned: its timer is set
    await worker.sleep(utc(due[0].year, due[0].month, due[0].day) - timedelta(days=13)
                       - await worker.get_current_time())  # past Q1's 14-day reminder, before its due day
    await next_reminder_of(handle, q1, "due_day")  # sent, and the next one planned
    assert [r[:2] for r in await reminders(tp, [q1])] == [(q1, "14_day")]

    client = await client_headers(tp, billing.client["email"])
    assert (await tp.http.post(f"/v1/estimated-payments/{q1}/confirm", headers=client, json={
        "payment_date": date.today().isoformat(), "payment_method": "direct_pay"})).status_code == 200
    moved = due[1] + timedelta(days=15)
    assert (await tp.http.patch(f"/v1/estimated-payments/{q2}", headers=billing.admin,
                                json={"due_date": moved.isoformat()})).status_code == 200
    await handle.signal(EstimatedPaymentScheduleWorkflow.changed)  # what the API sends after its commit
    upcoming = await next_reminder_of(handle, q2)
    assert upcoming.fire_at == utc(moved.year, moved.month, moved.day, 14) - timedelta(days=14)

    for payment_id in (q2, q3, q4):
        assert (await tp.http.delete(f"/v1/estimated-payments/{payment_id}", headers=billing.admin)).status_code == 204
    await handle.signal(EstimatedPaymentScheduleWorkflow.changed)
    assert await handle.result() == 1  # Q1's 14-day reminder only: nothing for a paid or cancelled quarter
    assert [r[:2] for r in await reminders(tp, [q1, q2, q3, q4])] == [(q1, "14_day")]
