"""A worker killed in the middle of a transition: the transition finishes after restart with one history row."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, text
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from activities.tax_return import TaxReturnActivities, TransitionRecord
from domain.audit.models import AuditEntry
from domain.db import make_engine
from domain.tax_return.analysis import OfflineAnalyzer
from domain.lifecycle.models import LifecycleHistory
from integrations.notify import Notifier
from settings import PROJECT_ROOT
from worker import WorkerDependencies, tax_return_activities
from orchestration import ids
from orchestration import tax_return as tax_return_client
from orchestration.tax_return import TransitionRequest, workflow_input
from workflows.tax_return import TaxReturnWorkflow
from tests.tax_return.conftest import insert_return, poll

# A worker for one task queue, in its own process so the test can SIGKILL it.
WORKER_SCRIPT = """
import asyncio, sys
from temporalio.worker import Worker
from settings import get_settings
from worker import WorkerDependencies, tax_return_activities
from orchestration.connect import connect
from workflows.tax_return import TaxReturnWorkflow

async def main():
    settings = get_settings()
    client = await connect(settings)
    deps = WorkerDependencies.from_settings(settings)
    async with Worker(client, task_queue=sys.argv[1], workflows=[TaxReturnWorkflow],
                      activities=tax_return_activities(deps)):
        print("ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def _worker_env(settings) -> dict:
    env = dict(os.environ)
    for name in ("database_url", "temporal_address", "temporal_namespace", "smtp_host", "smtp_port", "app_env",
                 "data_dir", "service_token"):
        env[name.upper()] = str(getattr(settings, name))
    return env


async def _history_rows(tp, return_id, action) -> int:
    async with tp.state.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(LifecycleHistory).where(
            LifecycleHistory.entity_id == return_id, LifecycleHistory.action == action))).scalar_one()


async def test_worker_killed_mid_transition_finishes_once(tp, office):
    queue = f"tax-return-crash-{uuid.uuid4().hex[:8]}"
    tax_return = await insert_return(tp, office, "in_prep", datetime.now(timezone.utc),
                                     datetime.now(timezone.utc).date() + timedelta(days=300))
    doomed = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, queue], cwd=PROJECT_ROOT,
                              env=_worker_env(tp.settings), stdout=subprocess.PIPE, text=True)
    update = asyncio.get_running_loop().create_future()  # replaced by the transition's task below
    try:
        assert (await asyncio.to_thread(doomed.stdout.readline)).strip() == "ready"
        # After the kill, the workflow task reaches the next worker once its timeout (10 s) has passed.
        handle = await tp.temporal.start_workflow(
            TaxReturnWorkflow.run, workflow_input(tax_return), id=ids.tax_return(tax_return.id), task_queue=queue)
        # Hold the return's row so the transition's write (one statement) blocks half-way: history row
        # inserted, status not. NO KEY: the history row's foreign key check (KEY SHARE) passes, the UPDATE waits.
        async with tp.state.sessionmaker() as blocker:
            await blocker.execute(text("SELECT 1 FROM tax_returns WHERE id = :id FOR NO KEY UPDATE"),
                                  {"id": tax_return.id})
            # What the API does: orchestration.tax_return.transition, which resends the same update id if the
            # worker holding it dies.
            update = asyncio.create_task(tax_return_client.transition(tp.temporal, tax_return, TransitionRequest(
                action="submit_for_review", actor_id=office.users["preparer"].id, actor_role="preparer",
                assigned_preparer_id=office.users["preparer"].id, pending_questions=0)))

            # As the owner: the app's role (settings.database_app_role) sees no other session's query text.
            owner = make_engine(tp.settings.database_url, pool_size=1)

            async def write_is_blocked():
                # A connection of its own: within one transaction pg_stat_activity is a frozen snapshot.
                async with owner.connect() as conn:
                    return (await conn.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE '%UPDATE tax_returns%'"))).scalar_one()

            try:
                await poll(write_is_blocked)
            finally:
                await owner.dispose()
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
            await blocker.rollback()
        async with Worker(tp.temporal, task_queue=queue, workflows=[TaxReturnWorkflow],
                          activities=tax_return_activities(WorkerDependencies.from_settings(tp.settings))):
            result = await asyncio.wait_for(update, timeout=60)
            assert (result.previous_status, result.status) == ("in_prep", "ready_for_review")
            await handle.terminate("test done")
    finally:
        if doomed.poll() is None:
            doomed.kill()
        if not update.done():
            update.cancel()
    assert await _history_rows(tp, tax_return.id, "submit_for_review") == 1
    async with tp.state.sessionmaker() as session:
        assert (await session.get(type(tax_return), tax_return.id)).status == "ready_for_review"


async def test_recording_a_transition_twice_writes_it_once(tp, office):
    """The case a kill cannot aim at: the write committed, the worker died before reporting it."""
    tax_return = await insert_return(tp, office, "in_prep", datetime.now(timezone.utc),
                                     datetime.now(timezone.utc).date() + timedelta(days=300))
    activities = TaxReturnActivities(tp.state.sessionmaker, Notifier(tp.state.mailer, tp.settings.sms_email_domain),
                                     OfflineAnalyzer())
    record = TransitionRecord(
        transition_id=uuid.uuid4(), return_id=tax_return.id, firm_id=tax_return.firm_id,
        client_id=tax_return.client_id, action="submit_for_review", from_status="in_prep",
        to_status="ready_for_review", transitioned_at=datetime.now(timezone.utc),
        actor_id=office.users["preparer"].id, actor_role="preparer", source="api")
    environment = ActivityEnvironment()
    assert (await environment.run(activities.record_transition, record)).recorded
    assert not (await environment.run(activities.record_transition, record)).recorded
    assert await _history_rows(tp, tax_return.id, "submit_for_review") == 1
    async with tp.state.sessionmaker() as session:
        audits = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.resource_id == str(tax_return.id), AuditEntry.action == "return.transition"))).scalar_one()
    assert audits == 1
