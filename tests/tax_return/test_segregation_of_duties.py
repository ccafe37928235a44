"""Segregation of duties and the portal's view of a return (issue 13, medium 9 and low): approved data is
frozen, a preparer note is its author's (or an admin's) to change, and a portal client sees no staff-internal
field of their return."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from domain.tax_return.models import TaxReturn
from tests.tax_return.conftest import assert_problem, create_return, transition, wait_for_status, walk_to_approved


async def _return_in(tp, office, status: str, tax_year: int) -> str:
    """A return row in `status`, written directly: no workflow is needed to refuse a change."""
    async with tp.state.sessionmaker.begin() as session:
        tax_return = TaxReturn(
            id=uuid.uuid4(), firm_id=office.firm_id, client_id=uuid.UUID(office.client["id"]), tax_year=tax_year,
            return_type="1040", filing_status="single", status=status, status_entered_at=datetime.now(timezone.utc),
            assigned_preparer_id=office.users["preparer"].id, extension_filed=False, due_date=date(tax_year + 1, 4, 15),
            priority="normal", federal_status="not_started", state_filings=[])
        session.add(tax_return)
    return str(tax_return.id)


async def test_approved_return_data_is_frozen(tp, office):
    h = office.headers
    for year, status in enumerate(("approved", "pending_signature", "ready_to_file", "filed", "rejected"), 2015):
        rid = await _return_in(tp, office, status, year)
        for body in ({"filing_status": "married_joint"}, {"estimated_refund": 1234.50},
                     {"estimated_tax_due": 99.00}):
            for role in ("preparer", "admin"):
                problem = assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h[role], json=body),
                                         422, "return_approved")
                assert status in problem["detail"], problem
        current = (await tp.http.get(f"/v1/returns/{rid}", headers=h["preparer"])).json()["data"]
        assert current["filing_status"] == "single" and current["estimated_refund"] is None
        # What staff use to run the work is not the approved data: it still changes, and so do notes.
        same = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
            "filing_status": "single", "priority": "rush", "preparer_notes": [{"note_text": f"{status}: call"}]})
        assert same.status_code == 200, same.text
    # Before approval the data is the preparer's to change.
    rid = await _return_in(tp, office, "in_review", 2020)
    changed = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "filing_status": "married_joint", "estimated_refund": 10.00})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["filing_status"] == "married_joint"


async def test_a_change_after_approval_goes_back_through_review(tp, office):
    """The way back is the workflow's `reopen`: then the data changes, and it is reviewed and approved again."""
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"], filing_status="single"))["id"]
    await walk_to_approved(tp, h, rid)

    refused = assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "filing_status": "head_of_household"}), 422, "return_approved")
    assert "reopen" in refused["detail"]
    assert_problem(await tp.http.post(f"/v1/returns/{rid}/workflow/transition", headers=h["admin"],
                                      json={"action": "reopen"}), 403)
    body = await transition(tp, h["preparer"], rid, "reopen", "Client remarried in December: head of household")
    assert body["data"]["previous_status"] == "approved" and body["data"]["status"] == "in_prep"
    changed = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "filing_status": "head_of_household"})
    assert changed.status_code == 200, changed.text
    # Approved again only through review, and not by its preparer.
    await transition(tp, h["preparer"], rid, "submit_for_review")
    await transition(tp, h["reviewer"], rid, "start_review")
    await transition(tp, h["reviewer"], rid, "approve")
    detail = (await tp.http.get(f"/v1/returns/{rid}", headers=h["admin"])).json()["data"]
    assert detail["status"] == "approved" and detail["filing_status"] == "head_of_household"
    assert [row["action"] for row in detail["workflow_history"]][-4:] == [
        "reopen", "submit_for_review", "start_review", "approve"]


async def test_a_note_is_changed_only_by_its_author_or_an_admin(tp, office):
    h, users = office.headers, office.users
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    added = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "preparer_notes": [{"note_text": "Box 12 code D is a 401(k) deferral"}]})
    note = added.json()["data"]["preparer_notes"][0]
    for role in ("reviewer", "ea_cpa"):
        for change in ({"id": note["id"], "note_text": "nothing to see"}, {"id": note["id"], "deleted": True}):
            assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h[role],
                                               json={"preparer_notes": [change]}), 403)
    # Others still add notes of their own; the refused edits left the note as it was.
    theirs = await tp.http.patch(f"/v1/returns/{rid}", headers=h["reviewer"], json={
        "preparer_notes": [{"note_text": "Reviewer: confirm with client"}]})
    assert theirs.status_code == 200, theirs.text
    notes = {n["id"]: n for n in theirs.json()["data"]["preparer_notes"]}
    assert notes[note["id"]]["note_text"] == "Box 12 code D is a 401(k) deferral" and len(notes) == 2
    reviewer_note = next(n for n in notes.values() if n["author_id"] == str(users["reviewer"].id))
    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "preparer_notes": [{"id": reviewer_note["id"], "deleted": True}]}), 403)
    # The author edits, an admin edits, the author deletes.
    for role, text in (("preparer", "Box 12 D checked"), ("admin", "Box 12 D checked (admin)")):
        edited = await tp.http.patch(f"/v1/returns/{rid}", headers=h[role], json={
            "preparer_notes": [{"id": note["id"], "note_text": text}]})
        assert edited.status_code == 200, edited.text
        assert {n["id"]: n for n in edited.json()["data"]["preparer_notes"]}[note["id"]]["note_text"] == text
    deleted = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "preparer_notes": [{"id": note["id"], "deleted": True}]})
    assert [n["id"] for n in deleted.json()["data"]["preparer_notes"]] == [reviewer_note["id"]]


PORTAL_SUMMARY = {"id", "client_id", "client_name", "tax_year", "return_type", "filing_status", "status",
                  "progress_percentage", "extension_filed", "due_date", "created_at", "updated_at"}
PORTAL_DETAIL = PORTAL_SUMMARY | {"extension_date", "original_due_date", "federal_status", "state_filings",
                                  "workflow_history"}
STAFF_ONLY = {"assigned_preparer_id", "assigned_reviewer_id", "priority", "stuck_since", "estimated_refund",
              "estimated_tax_due", "preparer_notes"}


async def test_a_portal_client_sees_no_staff_internal_field(tp, office):
    h, users = office.headers, office.users
    rid = (await create_return(tp, h["preparer"], office.client["id"], filing_status="single"))["id"]
    assert (await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={
        "assigned_reviewer_id": str(users["reviewer"].id), "priority": "rush", "estimated_refund": 120.00,
        "preparer_notes": [{"note_text": "internal"}]})).status_code == 200
    await transition(tp, h["preparer"], rid, "request_documents", "Client is slow; chase by phone")
    await wait_for_status(tp, h["preparer"], rid, "documents_pending")
    async with tp.state.sessionmaker.begin() as session:  # flagged stuck, as the workflow would
        (await session.get(TaxReturn, uuid.UUID(rid))).stuck_since = datetime.now(timezone.utc)

    detail = (await tp.http.get(f"/v1/returns/{rid}", headers=h["client"])).json()["data"]
    assert detail.keys() == PORTAL_DETAIL, detail.keys() ^ PORTAL_DETAIL
    assert detail["status"] == "documents_pending" and detail["progress_percentage"] == 10
    assert detail["workflow_history"] == [{"from_status": "intake", "to_status": "documents_pending",
                                           "transitioned_at": detail["workflow_history"][0]["transitioned_at"]}]
    listed = (await tp.http.get("/v1/returns", headers=h["client"])).json()["data"]
    assert listed and all(item.keys() == PORTAL_SUMMARY for item in listed)
    by_client = (await tp.http.get(f"/v1/clients/{office.client['id']}/returns", headers=h["client"])).json()
    assert all(item.keys() == PORTAL_SUMMARY for item in by_client["data"])
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["client"])).json()["data"]
    assert state.keys() == {"current_status", "entered_at", "days_in_status", "history"}
    assert all(entry.keys() == {"from_status", "to_status", "transitioned_at"} for entry in state["history"])
    # Filters on what the client does not see would disclose it by what they match.
    for query in ("priority=rush", "stuck=true", f"assigned_preparer_id={users['preparer'].id}",
                  "fields=assigned_reviewer_id"):
        assert_problem(await tp.http.get(f"/v1/returns?{query}", headers=h["client"]), 400)

    # Staff output is unchanged.
    staff = (await tp.http.get(f"/v1/returns/{rid}", headers=h["reviewer"])).json()["data"]
    assert STAFF_ONLY <= staff.keys() and staff["priority"] == "rush" and staff["stuck_since"]
    assert staff["workflow_history"][0]["transitioned_by"] == str(users["preparer"].id)
    assert staff["workflow_history"][0]["notes"] == "Client is slow; chase by phone"
    staff_state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["reviewer"])).json()["data"]
    assert staff_state["assigned_to"] == str(users["preparer"].id) and staff_state["stuck_since"]
    listed = (await tp.http.get(f"/v1/returns?priority=rush&stuck=true&client_id={office.client['id']}",
                                headers=h["reviewer"])).json()["data"]
    assert [r["id"] for r in listed] == [rid] and STAFF_ONLY - {"priority", "estimated_refund", "estimated_tax_due",
                                                                 "preparer_notes"} <= listed[0].keys()
