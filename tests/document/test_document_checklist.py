"""The checklist (prior year + return type) and the Signals the processing workflow sends the return.

The return's own workflow lives in the returns capability; here a recorder workflow runs under the return's
workflow id and keeps the system events it receives, so the test reads exactly what was sent."""

import uuid

import pytest_asyncio
from sqlalchemy import update
from temporalio import workflow
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from domain.tax_return.models import TaxReturn
from tests.document.conftest import new_return, upload, wait_processed, workflow_result
from tests.document.forms import form_pdf
from orchestration import ids
from orchestration.tax_return import SYSTEM_EVENT_SIGNAL, TaxReturnSystemEvent


@workflow.defn(name="ReturnSignalRecorder")
class ReturnSignalRecorder:
    def __init__(self) -> None:
        self.actions: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name=SYSTEM_EVENT_SIGNAL)
    def system_event(self, event: TaxReturnSystemEvent) -> None:
        self.actions.append(event.action)

    @workflow.query
    def received(self) -> list[str]:
        return list(self.actions)


@pytest_asyncio.fixture(loop_scope="session")
async def recorder(tp):
    queue = f"test-return-recorder-{uuid.uuid4().hex[:8]}"
    # Unsandboxed: the sandbox would re-import this test module and everything it imports.
    worker = Worker(tp.temporal, task_queue=queue, workflows=[ReturnSignalRecorder],
                    workflow_runner=UnsandboxedWorkflowRunner())
    async with worker:
        async def record(return_id):
            return await tp.temporal.start_workflow(ReturnSignalRecorder.run, id=ids.tax_return(return_id),
                                                    task_queue=queue)
        yield record


async def _set_status(tp, return_id, status):
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(update(TaxReturn).where(TaxReturn.id == return_id).values(status=status))


async def _processed(tp, headers, response):
    assert response.status_code == 201, response.text
    document_id = response.json()["data"]["id"]
    await wait_processed(tp, headers, document_id)
    return await workflow_result(tp, document_id)


async def test_checklist_from_prior_year_and_signals_to_the_return(tp, office, recorder):
    client_id = office.client["id"]
    for form, issuer, values in [("W-2", "Acme Corporation", {"wages": "70,000.00"}),
                                 ("1099-DIV", "Fidelity Investments", {"ordinary_dividends": "100.00"})]:
        await _processed(tp, office.admin, await upload(tp, office.admin, form_pdf(form, issuer, values, tax_year=2023),
                                                        filename="prior.pdf", client_id=client_id, tax_year=2023))
    return_id = office.return_id  # the office's 2024 1040 (one live return per client, year and type)
    handle = await recorder(return_id)

    checklist = (await tp.http.get(f"/v1/returns/{return_id}/documents/checklist", headers=office.admin)).json()
    assert [(i["description"], i["status"]) for i in checklist["data"]["expected"]] == [
        ("W-2 from Acme Corporation (based on prior year)", "missing"),
        ("1099-DIV from Fidelity Investments (based on prior year)", "missing"),
    ]

    # The first document lands while the return is in intake: documents_received, checklist still incomplete.
    outcome = await _processed(tp, office.admin, await upload(
        tp, office.admin, form_pdf("W-2", "ACME Corp", {"wages": "75,000.00"}), client_id=client_id,
        tax_year=2024, return_id=return_id))
    assert outcome.signals == ["documents_received"]

    # An unexpected document: listed as such, and the checklist is still incomplete.
    outcome = await _processed(tp, office.admin, await upload(
        tp, office.admin, form_pdf("1099-INT", "New Bank", {"interest_income": "12.00"}), filename="int.pdf",
        client_id=client_id, tax_year=2024, return_id=return_id))
    assert outcome.signals == ["documents_received"]  # the return is still in intake in Postgres

    # The return workflow moved the return on; the last expected document completes the checklist.
    await _set_status(tp, return_id, "documents_pending")
    outcome = await _processed(tp, office.admin, await upload(
        tp, office.admin, form_pdf("1099-DIV", "Fidelity Investments", {"ordinary_dividends": "110.00"}),
        filename="div.pdf", client_id=client_id, tax_year=2024, return_id=return_id))
    assert outcome.signals == ["documents_complete"]

    checklist = (await tp.http.get(f"/v1/returns/{return_id}/documents/checklist", headers=office.admin)).json()
    data = checklist["data"]
    assert [i["status"] for i in data["expected"]] == ["received", "received"] and data["complete"]
    assert [(i["document_type"], i["description"]) for i in data["unexpected"]] == [
        ("1099-INT", "1099-INT from New Bank")]
    assert await handle.query(ReturnSignalRecorder.received) == [
        "documents_received", "documents_received", "documents_complete"]

    # Past documents_pending, documents change nothing for the return.
    await _set_status(tp, return_id, "in_prep")
    outcome = await _processed(tp, office.admin, await upload(
        tp, office.admin, form_pdf("1098", "Wells Mortgage", {"mortgage_interest": "1.00"}), filename="m.pdf",
        client_id=client_id, tax_year=2024, return_id=return_id))
    assert outcome.signals == []
    await handle.terminate()


async def test_single_document_completing_the_checklist_sends_both_in_order(tp, office, recorder):
    return_id = await new_return(tp, office.firm_id, office.client["id"], tax_year=2025)
    handle = await recorder(return_id)
    outcome = await _processed(tp, office.admin, await upload(
        tp, office.admin, form_pdf("W-2", "Acme Corporation", {"wages": "1,000.00"}, tax_year=2025),
        client_id=office.client["id"], tax_year=2025, return_id=return_id))
    assert outcome.signals == ["documents_received", "documents_complete"]
    assert await handle.query(ReturnSignalRecorder.received) == ["documents_received", "documents_complete"]
    await handle.terminate()
