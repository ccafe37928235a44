"""Replay: workflow code must keep replaying the histories of returns already running.

`histories/*.json` are recorded histories (lifecycle to complete, refusals, signals, analysis, a stuck
flag), one set per workflow code version (`_v1`: before LEAN_TRANSITION_PATCH, `_v2`: with it, `_v3`: with
TIMER_HORIZON_PATCH too), and the outbox relay's rounds (`outbox_relay_v2`: OutboxRelayWorkflow; v1 was the tax return's own relay, which the
one outbox replaced). A change to TaxReturnWorkflow or OutboxRelayWorkflow that
would break a running workflow fails here. After a deliberate, versioned change (workflow.patched), record the
new version's histories with RECORD_TAX_RETURN_HISTORIES=<label> (written to histories/<name>_<label>.json)
and commit them next to the old ones.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from orchestration import ids
from orchestration.payload_codec import sealed_data_converter
from orchestration.sandbox_runner import LeanSandboxRunner
from settings import Settings
from orchestration.tax_return import start
from workflows.outbox_relay import OutboxRelayWorkflow
from workflows.tax_return import TIMER_HORIZON, TaxReturnWorkflow
from tests.tax_return.conftest import create_return, insert_return, poll, transition, wait_for_status

HISTORIES = Path(__file__).parent / "histories"
# Histories recorded before payloads were sealed are clear; live ones are sealed with the test keys.
REPLAYER = Replayer(workflows=[TaxReturnWorkflow, OutboxRelayWorkflow], workflow_runner=LeanSandboxRunner(),
                    data_converter=sealed_data_converter(Settings().temporal_payload_keys, accept_unsealed=True))


async def replay_and_maybe_record(tp, workflow_id: str, name: str) -> None:
    """Replay a live history on today's code; with RECORD_TAX_RETURN_HISTORIES=<label>, keep it in histories/."""
    history = await tp.temporal.get_workflow_handle(workflow_id).fetch_history()
    await REPLAYER.replay_workflow(history)
    if label := os.environ.get("RECORD_TAX_RETURN_HISTORIES"):
        (HISTORIES / f"{name}_{label}.json").write_text(json.dumps(json.loads(history.to_json()), indent=1))


async def test_recorded_histories_replay():
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories"
    for path in files:
        history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
        await REPLAYER.replay_workflow(history)


async def _lifecycle(tp, office) -> str:
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"], 2021))["id"]
    await transition(tp, h["preparer"], rid, "start_prep", expect=409)
    await transition(tp, h["system"], rid, "documents_received")
    await transition(tp, h["preparer"], rid, "mark_ready_for_prep")
    await transition(tp, h["preparer"], rid, "start_prep")
    await wait_for_status(tp, h["preparer"], rid, "in_prep")
    await tp.http.post(f"/v1/returns/{rid}/ai/analyze", headers=h["preparer"], json={})
    await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={"extension_filed": True})
    await transition(tp, h["preparer"], rid, "submit_for_review")
    await transition(tp, h["reviewer"], rid, "start_review")
    await transition(tp, h["ea_cpa"], rid, "approve")
    for action in ("send_for_signature", "signature_received", "transmit", "mark_accepted", "complete"):
        await transition(tp, h["system"], rid, action)
    return ids.tax_return(rid)


async def _stuck(tp, office) -> str:
    entered = datetime.now(timezone.utc) - timedelta(days=30)
    tax_return = await insert_return(tp, office, "ready_for_review", entered,
                                     datetime.now(timezone.utc).date() + timedelta(days=5))

    async def escalated():
        async with tp.state.sessionmaker() as session:
            return (await session.get(type(tax_return), tax_return.id)).status == "needs_review"

    await start(tp.temporal, tax_return)
    await poll(escalated)
    return ids.tax_return(tax_return.id)


async def test_live_histories_replay(tp, office):
    """Today's histories replay on today's code; recorded into histories/ on request."""
    for name, make in (("lifecycle", _lifecycle), ("stuck_escalated_reminder", _stuck)):
        await replay_and_maybe_record(tp, await make(tp, office), name)


@pytest.mark.parametrize("action", ["request_documents", "mark_ready_for_prep"])
async def test_a_transition_upserts_only_what_changed_and_keeps_its_timer(tp, office, action):
    """LEAN_TRANSITION_PATCH and TIMER_HORIZON_PATCH: the server work a transition causes, read from the history it
    writes. intake (14-day budget) → documents_pending (21 days) moves the next wake later, intake →
    ready_for_prep (5 days) earlier, but not before the timer, armed at most TIMER_HORIZON ahead: the timer stays
    either way. The 2020 deadline is past, so no reminder moves either. What remains is what any Update that
    writes through a local activity and upserts a status costs (bench/tax_return_bare_worker.py's floor)."""
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"], 2020))["id"]
    handle = tp.temporal.get_workflow_handle(ids.tax_return(rid))

    async def first_timer_started():  # else, on a busy machine, the Update can share the workflow's first task
        return any(e.HasField("timer_started_event_attributes") for e in (await handle.fetch_history()).events)
    await poll(first_timer_started)
    await transition(tp, h["preparer"], rid, action)
    history = await handle.fetch_history()
    events = list(history.events)
    timer = next(e.timer_started_event_attributes for e in events if e.HasField("timer_started_event_attributes"))
    assert timer.start_to_fire_timeout.ToTimedelta() <= TIMER_HORIZON
    accepted = next(i for i, e in enumerate(events)
                    if e.HasField("workflow_execution_update_accepted_event_attributes"))
    after = events[accepted - 3:]  # from the workflow task that took the Update
    kinds = [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in after]
    assert kinds == ["WORKFLOW_TASK_SCHEDULED", "WORKFLOW_TASK_STARTED", "WORKFLOW_TASK_COMPLETED",
                     "WORKFLOW_EXECUTION_UPDATE_ACCEPTED", "MARKER_RECORDED", "UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
                     "WORKFLOW_EXECUTION_UPDATE_COMPLETED"]
    upserts = [e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
               for e in after if e.HasField("upsert_workflow_search_attributes_event_attributes")]
    assert [sorted(fields) for fields in upserts] == [["EntityStatus"]]
