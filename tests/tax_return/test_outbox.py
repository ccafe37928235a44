"""The tax return outbox: the API's messages to a return's workflow reach it even when the send after the
commit fails: an API whose Temporal is unreachable, or an entry committed whose send never happened (the
process died in between)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

from domain.tax_return.models import ReturnOutboxEntry
from workflows import ids, queues, tax_return_outbox
from workflows.tax_return_client import start
from workflows.tax_return_events import TaxReturnSystemEvent
from workflows.tax_return_outbox_relay import RELAY_WORKFLOW_ID, OutboxRelayInput, ensure_running

from tests.support import api_without_temporal, outbox_entries
from tests.tax_return.conftest import create_return, insert_return, poll, transition, wait_for_status
from tests.tax_return.test_tax_return_replay import replay_and_maybe_record


async def _lost_send(tp, return_id, kind: str, payload=None) -> uuid.UUID:
    """An entry committed with its change whose send never happened (the API process died after the commit)."""
    async with tp.state.sessionmaker.begin() as session:
        return await tax_return_outbox.enqueue(session, return_id, kind, tax_return_outbox.as_payload(payload))


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
    assert entry.kind == tax_return_outbox.START
    assert await tax_return_outbox.deliver(tp.temporal, tp.state.sessionmaker, entry.id)  # what the relay does
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
    assert (entry.kind, entry.payload["action"]) == (tax_return_outbox.SYSTEM_EVENT, "client_responded")
    # A message that keeps failing (here: a kind no release knows) is counted and holds nothing back.
    poisoned = await _lost_send(tp, tax_return.id, "retired_kind")

    await ensure_running(tp.temporal, queues.TAX_RETURN, OutboxRelayInput(interval_seconds=0.2, relay_after_seconds=0))
    try:
        await wait_for_status(tp, h["preparer"], rid, "in_prep")

        async def only_the_poisoned_entry_left():
            entries = await outbox_entries(tp, tax_return.id)
            return len(entries) == 1 and entries[0].id == poisoned and entries[0].attempts >= 1 and entries[0]
        left = await poll(only_the_poisoned_entry_left)
        assert left.last_error.startswith("ValueError: unknown outbox entry kind")
        await replay_and_maybe_record(tp, RELAY_WORKFLOW_ID, "outbox_relay")
    finally:
        await tp.temporal.get_workflow_handle(RELAY_WORKFLOW_ID).terminate("test over")
        async with tp.state.sessionmaker.begin() as session:
            await session.delete(await session.get(ReturnOutboxEntry, poisoned))


async def test_a_message_delivered_twice_changes_nothing(tp, office):
    created = await create_return(tp, office.headers["preparer"], office.client["id"], tax_year=2020)
    return_id = uuid.UUID(created["id"])
    for _ in range(2):  # sent by the API, then again by the relay because the delete was lost
        entry_id = await _lost_send(tp, return_id, tax_return_outbox.SYSTEM_EVENT,
                                    TaxReturnSystemEvent(action="documents_received", source="document"))
        assert await tax_return_outbox.deliver(tp.temporal, tp.state.sessionmaker, entry_id)
    await wait_for_status(tp, office.headers["preparer"], created["id"], "documents_pending")
    response = await tp.http.get(f"/v1/returns/{created['id']}/workflow/state", headers=office.headers["preparer"])
    actions = [h["action"] for h in response.json()["data"]["history"]]
    assert actions.count("documents_received") == 1, actions
    assert await outbox_entries(tp, return_id) == []
