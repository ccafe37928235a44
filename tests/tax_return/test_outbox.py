"""The outbox, for a return's workflow: the API's messages reach it even when the send after the commit fails: an
API whose Temporal is unreachable, or an entry committed whose send never happened (the process died in
between). tests/orchestration/test_outbox_kinds.py covers every other kind."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from domain.outbox.models import OutboxEntry
from orchestration import ids, outbox, queues
from orchestration import tax_return as workflow
from orchestration.message import OutboxMessage
from orchestration.outbox import RELAY_WORKFLOW_ID, OutboxRelayInput, ensure_relay_running
from orchestration.tax_return import TaxReturnSystemEvent, start

from tests.support import api_without_temporal, deliver, outbox_entries
from tests.tax_return.conftest import create_return, insert_return, poll, transition, wait_for_status
from tests.tax_return.test_tax_return_replay import replay_and_maybe_record


async def _lost_send(tp, message: OutboxMessage) -> uuid.UUID:
    """An entry committed with its change whose send never happened (the API process died after the commit)."""
    async with tp.state.sessionmaker.begin() as session:
        return (await tp.state.outbox.add(session, message)).entry_id


async def test_the_api_sends_at_once_and_keeps_no_entry(tp, office):
    created = await create_return(tp, office.headers["preparer"], office.client["id"], tax_year=2021)
    response = await tp.http.patch(f"/v1/returns/{created['id']}", headers=office.headers["ea_cpa"],
                                   json={"assigned_reviewer_id": str(office.users["reviewer"].id)})
    assert response.status_code == 200, response.text
    response = await tp.http.post(f"/v1/returns/{created['id']}/ai/analyze", headers=office.headers["preparer"],
                                  json={"analysis_type": "comprehensive"})
    assert response.status_code == 202, response.text
    assert await outbox_entries(tp, uuid.UUID(created["id"])) == []
    state = await tp.temporal.get_workflow_handle(ids.tax_return(uuid.UUID(created["id"]))).query("state")
    assert state["assigned_reviewer_id"] == str(office.users["reviewer"].id)


async def test_a_return_created_while_temporal_is_unreachable_gets_its_workflow_later(tp, office):
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post("/v1/returns", headers=office.headers["preparer"], json={
            "client_id": office.client["id"], "tax_year": 2018, "return_type": "1040"})
    assert response.status_code == 201, response.text  # the return is kept
    return_id = uuid.UUID(response.json()["data"]["id"])
    [entry] = await outbox_entries(tp, return_id)
    assert entry.kind == workflow.START
    assert await deliver(tp, entry.id)  # what the relay does
    assert (await tp.temporal.get_workflow_handle(ids.tax_return(return_id)).describe()).status.name == "RUNNING"
    assert await outbox_entries(tp, return_id) == []


async def test_an_answer_given_while_temporal_is_unreachable_still_moves_the_return_on(tp, office):
    h = office.headers
    tax_return = await insert_return(tp, office, "in_prep", datetime.now(timezone.utc),
                                     date.today() + timedelta(days=120))
    await start(tp.temporal, tax_return)
    rid = str(tax_return.id)
    question = (await tp.http.post(f"/v1/returns/{rid}/questions", headers=h["preparer"],
                                   json={"question_text": "Any new dependents?"})).json()["data"]
    await transition(tp, h["preparer"], rid, "request_client_info")

    async with api_without_temporal(tp) as cut_off:
        answered = await cut_off.post(f"/v1/returns/{rid}/questions/{question['id']}/answer", headers=h["client"],
                                      json={"answer_text": "No new dependents"})
    assert answered.status_code == 200, answered.text  # the answer is kept; its message waits in the outbox
    [entry] = await outbox_entries(tp, tax_return.id)
    opened = outbox.open_entry(tp.state.cipher, entry)
    assert (opened.kind, opened.payload["action"]) == (workflow.SYSTEM_EVENT, "client_responded")
    # A message that keeps failing (here: a kind no release knows any more) is counted and holds nothing back.
    async with tp.state.sessionmaker.begin() as session:
        poisoned = uuid.uuid4()
        session.add(OutboxEntry(id=poisoned, entity_type="tax_return", entity_id=str(tax_return.id),
                                kind="retired_kind", payload={}, attempts=0))

    await ensure_relay_running(tp.temporal, queues.ADMIN,
                               OutboxRelayInput(interval_seconds=0.2, relay_after_seconds=0))
    try:
        await wait_for_status(tp, h["preparer"], rid, "in_prep")

        async def only_the_poisoned_entry_left():
            entries = await outbox_entries(tp, tax_return.id)
            return len(entries) == 1 and entries[0].id == poisoned and entries[0].attempts >= 1 and entries[0]
        left = await poll(only_the_poisoned_entry_left)
        assert left.last_error.startswith("ValueError: unknown outbox kind")
        await replay_and_maybe_record(tp, RELAY_WORKFLOW_ID, "outbox_relay")
    finally:
        await tp.temporal.get_workflow_handle(RELAY_WORKFLOW_ID).terminate("test over")
        async with tp.state.sessionmaker.begin() as session:
            await session.delete(await session.get(OutboxEntry, poisoned))


async def test_a_message_delivered_twice_changes_nothing(tp, office):
    created = await create_return(tp, office.headers["preparer"], office.client["id"], tax_year=2020)
    return_id = uuid.UUID(created["id"])
    for _ in range(2):  # sent by the API, then again by the relay because the delete was lost
        entry_id = await _lost_send(tp, workflow.system_event(
            return_id, TaxReturnSystemEvent(action="documents_received", source="document")))
        assert await deliver(tp, entry_id)
    await wait_for_status(tp, office.headers["preparer"], created["id"], "documents_pending")
    response = await tp.http.get(f"/v1/returns/{created['id']}/workflow/state", headers=office.headers["preparer"])
    actions = [h["action"] for h in response.json()["data"]["history"]]
    assert actions.count("documents_received") == 1, actions
    assert await outbox_entries(tp, return_id) == []
