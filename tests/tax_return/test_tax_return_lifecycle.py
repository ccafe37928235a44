"""The whole lifecycle, intake → complete, through the HTTP API with each role and the service identity."""

from __future__ import annotations

from sqlalchemy import func, select
from temporalio.client import WorkflowExecutionStatus

from domain.audit.models import AuditEntry
from orchestration import ids
from tests.tax_return.conftest import assert_problem, create_return, transition, wait_for_status


async def test_lifecycle_intake_to_complete(tp, office):
    h, users = office.headers, office.users
    created = await create_return(tp, h["preparer"], office.client["id"], filing_status="married_joint")
    rid = created["id"]
    assert created["status"] == "intake" and created["progress_percentage"] == 0
    assert created["due_date"] == "2025-04-15" and created["assigned_preparer_id"] == str(users["preparer"].id)

    await transition(tp, h["preparer"], rid, "mark_ready_for_prep", "paper documents in")
    body = await transition(tp, h["preparer"], rid, "start_prep", "Starting preparation")
    assert body["data"]["status"] == "ai_analysis" and body["data"]["previous_status"] == "ready_for_prep"
    # The workflow runs the analysis itself and sends complete_ai_analysis.
    await wait_for_status(tp, h["preparer"], rid, "in_prep")

    # request_client_info needs a pending question; the client's last answer sends client_responded.
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/workflow/transition", headers=h["preparer"],
                                      json={"action": "request_client_info"}), 422, "has_pending_questions")
    question = await tp.http.post(f"/v1/returns/{rid}/questions", headers=h["preparer"],
                                  json={"question_text": "Did you sell any stocks in 2024?", "priority": "high"})
    assert question.status_code == 201, question.text
    qid = question.json()["data"]["id"]
    await transition(tp, h["preparer"], rid, "request_client_info")
    answer = await tp.http.post(f"/v1/returns/{rid}/questions/{qid}/answer", headers=h["client"],
                                json={"answer_text": "No sales this year"})
    assert answer.status_code == 200, answer.text
    await wait_for_status(tp, h["preparer"], rid, "in_prep")

    await transition(tp, h["preparer"], rid, "submit_for_review", "Ready for reviewer examination")
    await transition(tp, h["reviewer"], rid, "start_review")
    await transition(tp, h["reviewer"], rid, "request_revisions", "Schedule B missing")
    await transition(tp, h["preparer"], rid, "start_revisions")
    await transition(tp, h["preparer"], rid, "submit_for_review")
    await transition(tp, h["reviewer"], rid, "start_review")
    await transition(tp, h["ea_cpa"], rid, "approve", "Looks good")
    for action in ("send_for_signature", "signature_received", "transmit", "mark_rejected"):
        await transition(tp, h["system"], rid, action)
    await transition(tp, h["ea_cpa"], rid, "restart_after_rejection", "IND-031-04 fixed")
    await transition(tp, h["preparer"], rid, "submit_for_review")
    await transition(tp, h["reviewer"], rid, "start_review")
    await transition(tp, h["reviewer"], rid, "approve")
    for action in ("send_for_signature", "signature_received", "transmit", "mark_accepted", "complete"):
        await transition(tp, h["system"], rid, action)

    detail = (await tp.http.get(f"/v1/returns/{rid}", headers=h["admin"])).json()["data"]
    assert detail["status"] == "complete" and detail["progress_percentage"] == 100
    assert detail["assigned_reviewer_id"] == str(users["reviewer"].id)
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["admin"])).json()["data"]
    assert state["current_status"] == "complete" and state["days_in_status"] == 0
    path = [(row["from_status"], row["to_status"]) for row in state["history"]]
    assert path[0] == ("intake", "ready_for_prep") and path[-1] == ("accepted", "complete")
    assert len(path) == 25
    assert [row["transitioned_by"] for row in state["history"][:2]] == [str(users["preparer"].id)] * 2
    # The spec's names for the history rows (stored in lifecycle_history as at, actor_id, note).
    assert {frozenset(row) for row in state["history"]} == {frozenset({
        "from_status", "to_status", "action", "transitioned_at", "transitioned_by", "actor_role", "notes"})}
    assert detail["workflow_history"] == state["history"]
    # The portal client sees the same status timeline, without who did what (issue 13, low).
    portal = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["client"])).json()["data"]
    assert portal["current_status"] == "complete"
    assert portal["history"] == [{k: row[k] for k in ("from_status", "to_status", "transitioned_at")}
                                 for row in state["history"]]
    async with tp.state.sessionmaker() as session:
        audited = (await session.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "return.transition", AuditEntry.resource_id == rid))).scalar_one()
    assert audited == len(path)

    # Filed returns cannot be deleted; nothing moves a complete return; its workflow has finished.
    assert_problem(await tp.http.delete(f"/v1/returns/{rid}", headers=h["admin"]), 422, "already_filed")
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/workflow/transition", headers=h["system"],
                                      json={"action": "complete"}), 409)
    description = await tp.temporal.get_workflow_handle(ids.tax_return(rid)).describe()
    assert description.status == WorkflowExecutionStatus.COMPLETED
