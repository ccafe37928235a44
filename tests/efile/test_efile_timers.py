"""The rejection's durable timers under the time-skipping test server: the perfection period's warning a day
before it ends, the paper-filing flag when it lapses, escalation after the category's time; and none of them once
a resubmission resolved the rejection. The activities are the real ones, against the transmitter sandbox."""

from __future__ import annotations

import random
import uuid
from datetime import date, datetime, time, timedelta, timezone

import pytest_asyncio
from temporalio.worker import Worker

from domain.efile import rules
from domain.efile.models import EfileTransmission
from domain.tax_return.models import TaxReturn
from orchestration import ids, queues
from orchestration.efile import RESOLVED_SIGNAL, EfileTransmissionInput
from tests.efile.conftest import new_client
from tests.tax_return.conftest import poll
from worker import WorkerDependencies, efile_activities, tax_return_activities
from workflows.efile import EfileTransmissionWorkflow
from workflows.tax_return import TaxReturnWorkflow
from tests.support import signal_ending, start_time_skipping


@pytest_asyncio.fixture(loop_scope="session")
async def skipping(tp, transmitter):
    env = await start_time_skipping()
    deps = WorkerDependencies.from_settings(tp.settings)
    workers = [Worker(env.client, task_queue=queues.EFILE, workflows=[EfileTransmissionWorkflow],
                      activities=efile_activities(deps)),
               Worker(env.client, task_queue=queues.TAX_RETURN, workflows=[TaxReturnWorkflow],
                      activities=tax_return_activities(deps))]
    async with workers[0], workers[1]:
        yield env
    await env.shutdown()


async def _filed(tp, firm, last_name: str) -> tuple[TaxReturn, EfileTransmission]:
    """A return already filed, and its federal transmission about to be submitted."""
    client = await new_client(tp, firm, last_name)
    now = datetime.now(timezone.utc)
    async with tp.state.sessionmaker.begin() as session:
        tax_return = TaxReturn(id=uuid.uuid4(), firm_id=firm.firm_id, client_id=uuid.UUID(client["id"]),
                               tax_year=2025, return_type="1040", status="filed", status_entered_at=now,
                               assigned_preparer_id=firm.users["preparer"].id, extension_filed=False,
                               due_date=date(2026, 4, 15), priority="normal", federal_status="not_started",
                               state_filings=[])
        session.add(tax_return)
        await session.flush()
        row = EfileTransmission(id=uuid.uuid4(), firm_id=firm.firm_id, client_id=tax_return.client_id,
                                return_id=tax_return.id, jurisdiction="federal", transmission_type="original",
                                submission_id=rules.submission_id("000000", now.date(), random.randrange(1, 36 ** 7)),
                                status="transmitting", attempts=1, figures={}, filing_date_kept=False,
                                paper_filing_required=False)
        session.add(row)
    return tax_return, row


async def _row(tp, transmission_id) -> EfileTransmission:
    async with tp.state.sessionmaker() as session:
        return await session.get(EfileTransmission, transmission_id)


def _input(tax_return: TaxReturn, row: EfileTransmission) -> EfileTransmissionInput:
    return EfileTransmissionInput(transmission_id=row.id, firm_id=row.firm_id, return_id=tax_return.id,
                                  jurisdiction="federal", return_type="1040", poll_initial_s=0.3, poll_max_s=2.0)


async def test_perfection_warning_paper_filing_and_escalation(tp, firm, skipping):
    env = skipping
    tax_return, row = await _filed(tp, firm, "Mismatch")
    handle = await env.client.start_workflow(EfileTransmissionWorkflow.run, _input(tax_return, row),
                                             id=ids.efile_transmission(row.id), task_queue=queues.EFILE)

    async def rejected():
        found = await _row(tp, row.id)
        return found if found.perfection_deadline is not None and found.client_notified_at is not None else None

    found = await poll(rejected, 30)
    assert found.status == "rejected"
    deadline_end = datetime.combine(found.perfection_deadline, time(23, 59, 59), tzinfo=timezone.utc)
    admin_mail = firm.users["admin"].email

    async def mails(subject: str):
        return [m for m in await tp.mail_to(admin_mail) if subject in m["subject"]
                and found.submission_id in m["text"]]

    # A day before the perfection period ends: staff are warned, nothing flagged yet.
    await env.sleep(deadline_end - timedelta(days=1) - await env.get_current_time() + timedelta(minutes=1))
    await poll(lambda: mails("Perfection period ends tomorrow"), 15)
    assert not (await _row(tp, row.id)).paper_filing_required
    # It lapses: the return is flagged for paper filing.
    await env.sleep(deadline_end - await env.get_current_time() + timedelta(minutes=1))
    await poll(lambda: mails("Paper filing required"), 15)
    assert (await _row(tp, row.id)).paper_filing_required
    # A data mismatch unresolved for 7 days escalates.
    assert (await _row(tp, row.id)).escalated_at is None
    await env.sleep(found.acknowledged_at + timedelta(days=7) - await env.get_current_time() + timedelta(minutes=1))
    await poll(lambda: mails("Escalated"), 15)
    assert (await _row(tp, row.id)).escalated_at is not None
    assert await handle.result() == "rejected"


async def test_a_resubmission_stops_the_timers(tp, firm, skipping):
    env = skipping
    tax_return, row = await _filed(tp, firm, "Duplicate")
    handle = await env.client.start_workflow(EfileTransmissionWorkflow.run, _input(tax_return, row),
                                             id=ids.efile_transmission(row.id), task_queue=queues.EFILE)

    async def rejected():
        found = await _row(tp, row.id)
        return found.perfection_deadline is not None and found.client_notified_at is not None

    await poll(rejected, 30)
    async with tp.state.sessionmaker.begin() as session:
        (await session.get(EfileTransmission, row.id)).resolved_at = datetime.now(timezone.utc)
    await signal_ending(env.client, handle, RESOLVED_SIGNAL)
    await env.sleep(timedelta(days=12))
    assert await handle.result() == "resubmitted"
    done = await _row(tp, row.id)
    assert done.escalated_at is None and done.perfection_warned_at is None and not done.paper_filing_required
