"""Timers: reminders before the deadline, the extension moving it, the stuck flag and escalation (under the
time-skipping test server), continue-as-new keeping the state, and a stuck return found by the operator's
Temporal UI query and by GET /v1/returns?stuck=true (on the dev server)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest_asyncio
from sqlalchemy import select
from temporalio.worker import Worker

from domain.tax_calendar import extended_due_date
from domain.lifecycle.models import LifecycleHistory
from domain.tax_return.models import TaxReturn
from worker import WorkerDependencies, tax_return_activities
from orchestration import ids, search_attributes
from orchestration.tax_return import (
    RETURN_CHANGED_SIGNAL, TRANSITION_UPDATE, ReturnChanged, TaxReturnState, TaxReturnWorkflowInput,
    TransitionRequest, start, workflow_input,
)
from workflows.tax_return import TaxReturnWorkflow
from tests.tax_return.conftest import insert_return, poll
from tests.support import start_time_skipping

QUEUE = "tax-return-timers"
# The operator's query for stuck returns (README): every return over its status's time budget.
STUCK_QUERY = "EntityType = 'tax_return' AND StuckSince IS NOT NULL"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def skipping(tp):
    env = await start_time_skipping()
    worker = Worker(env.client, task_queue=QUEUE, workflows=[TaxReturnWorkflow],
                    activities=tax_return_activities(WorkerDependencies.from_settings(tp.settings)))
    async with worker:
        yield env
    await env.shutdown()


async def row(tp, return_id) -> TaxReturn:
    async with tp.state.sessionmaker() as session:
        return await session.get(TaxReturn, return_id)


async def test_reminders_extension_stuck_and_escalation(tp, office, skipping):
    env = skipping
    now = await env.get_current_time()
    deadline = now.date() + timedelta(days=40)
    tax_return = await insert_return(tp, office, "in_prep", now, deadline)
    handle = await env.client.start_workflow(TaxReturnWorkflow.run, workflow_input(tax_return),
                                             id=ids.tax_return(tax_return.id), task_queue=QUEUE)
    preparer_mail = office.users["preparer"].email

    # Day 11: the 30-day reminder went to the preparer, and in_prep's 10-day budget is spent.
    await env.sleep(timedelta(days=11))
    # The preparer is shared with other tests: only this return's mails (its tax year is unique) count.
    mine = f"Reminder: {tax_return.tax_year} 1040"

    async def reminders():
        return [m for m in await tp.mail_to(preparer_mail) if m["subject"].startswith(mine)]

    mail = (await poll(reminders))[0]
    assert str(deadline) in mail["subject"]
    stuck = await poll(lambda: _stuck(tp, tax_return.id))
    assert stuck.stuck_since == tax_return.status_entered_at + timedelta(days=10)
    state = await handle.query("state", result_type=TaxReturnState)
    assert state.stuck_since is not None and f"{deadline}/30" in state.reminders_done

    # An extension moves the deadline: the old deadline's 7-day reminder is never sent.
    extended = extended_due_date("1040", deadline.year - 1)
    await handle.signal(RETURN_CHANGED_SIGNAL, ReturnChanged(
        assigned_preparer_id=office.users["preparer"].id, assigned_reviewer_id=None, deadline=extended))
    # Day 21: stuck for a second budget → escalated to needs_review by the System action `escalate`.
    await env.sleep(timedelta(days=10))
    await poll(lambda: _status(tp, tax_return.id, "needs_review"))
    async with tp.state.sessionmaker() as session:
        actions = (await session.execute(select(LifecycleHistory.action).where(
            LifecycleHistory.entity_id == tax_return.id))).scalars().all()
    assert actions == ["escalate"]
    await env.sleep(timedelta(days=14))  # past the old deadline's 7- and 1-day reminders
    state = await handle.query("state", result_type=TaxReturnState)
    assert state.deadline == extended and state.status == "needs_review"
    assert len(await reminders()) == 1
    await handle.terminate("test done")


async def _stuck(tp, return_id):
    tax_return = await row(tp, return_id)
    return tax_return if tax_return.stuck_since is not None else None


async def _status(tp, return_id, status):
    tax_return = await row(tp, return_id)
    return tax_return if tax_return.status == status else None


async def test_continue_as_new_keeps_the_state(tp, office, skipping):
    env = skipping
    now = await env.get_current_time()
    tax_return = await insert_return(tp, office, "ready_for_prep", now, now.date() + timedelta(days=200))
    handle = await env.client.start_workflow(
        TaxReturnWorkflow.run, TaxReturnWorkflowInput(state=workflow_input(tax_return).state, history_event_limit=12),
        id=ids.tax_return(tax_return.id), task_queue=QUEUE)
    preparer = office.users["preparer"].id
    steps = [("start_prep", "preparer"), ("submit_for_review", "preparer"), ("start_review", "reviewer"),
             ("request_revisions", "reviewer"), ("start_revisions", "preparer"), ("submit_for_review", "preparer")]
    latest = env.client.get_workflow_handle(ids.tax_return(tax_return.id))
    for action, role in steps:
        await latest.execute_update(TRANSITION_UPDATE, TransitionRequest(
            action=action, actor_id=office.users[role].id, actor_role=role, assigned_preparer_id=preparer,
            pending_questions=0))
        if action == "start_prep":  # the workflow's own analysis moves it on to in_prep
            await poll(lambda: _status(tp, tax_return.id, "in_prep"))
    first_run = [e async for e in env.client.get_workflow_handle(
        handle.id, run_id=handle.result_run_id).fetch_history_events()]
    assert first_run[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    state = await latest.query("state", result_type=TaxReturnState)
    assert state.status == "ready_for_review" and state.assigned_reviewer_id == office.users["reviewer"].id
    async with tp.state.sessionmaker() as session:
        rows = (await session.execute(select(LifecycleHistory.action).where(
            LifecycleHistory.entity_id == tax_return.id).order_by(LifecycleHistory.at))).scalars().all()
    assert rows == ["start_prep", "complete_ai_analysis", "submit_for_review", "start_review", "request_revisions",
                    "start_revisions", "submit_for_review"]
    await latest.terminate("test done")


async def test_stuck_return_in_the_list_and_in_temporal_visibility(tp, office):
    """A return already over budget when its workflow starts is flagged at once, on the dev server."""
    entered = datetime.now(timezone.utc) - timedelta(days=12)
    tax_return = await insert_return(tp, office, "in_prep", entered, date.today() + timedelta(days=300))
    await start(tp.temporal, tax_return)
    await poll(lambda: _stuck(tp, tax_return.id))
    listed = (await tp.http.get(f"/v1/returns?stuck=true&client_id={office.client['id']}",
                                headers=office.headers["admin"])).json()["data"]
    assert [r["id"] for r in listed] == [str(tax_return.id)] and listed[0]["stuck_since"]
    query = f"{STUCK_QUERY} AND ClientId = '{office.client['id']}'"

    async def found():
        return [w.id async for w in tp.temporal.list_workflows(query)]

    assert await poll(found) == [ids.tax_return(tax_return.id)]
    # (Describing on the Java time-skipping server fails to decode datetime attributes: checked here.)
    attributes = (await tp.temporal.get_workflow_handle(ids.tax_return(tax_return.id)).describe()
                  ).typed_search_attributes
    assert attributes.get(search_attributes.STUCK_SINCE) == entered + timedelta(days=10)
    assert attributes.get(search_attributes.ENTITY_STATUS) == "in_prep"
    assert attributes.get(search_attributes.ENTITY_TYPE) == "tax_return"
    assert attributes.get(search_attributes.ASSIGNEE_ID) == str(office.users["preparer"].id)
    assert attributes.get(search_attributes.RETURN_TYPE) == "1040"
    assert attributes.get(search_attributes.TAX_YEAR) == tax_return.tax_year
    assert attributes.get(search_attributes.CLIENT_ID) == office.client["id"]
    assert attributes.get(search_attributes.NEXT_REMINDER_AT) is not None
