"""Returns CRUD (spec §5.1–5.5): conventions, due dates, role and visibility rules, notes, stuck filter."""

from __future__ import annotations

import uuid
from datetime import date

from domain.tax_calendar import due_date, extended_due_date
from tests.tax_return.conftest import assert_problem, create_return, make_office, make_staff, transition


def test_due_dates_roll_past_weekends_and_holidays():
    assert due_date("1040", 2024) == date(2025, 4, 15)
    assert due_date("1040", 2021) == date(2022, 4, 18)  # Emancipation Day observed Friday April 15
    assert due_date("1040", 2022) == date(2023, 4, 18)  # April 15 a Saturday, Monday 17 Emancipation Day
    assert due_date("1065", 2024) == date(2025, 3, 17)  # March 15 2025 is a Saturday
    assert due_date("1120S", 2023) == date(2024, 3, 15)
    assert due_date("1120", 2024) == date(2025, 4, 15)
    assert due_date("990", 2024) == date(2025, 5, 15)
    assert due_date("706", 2024) == due_date("709", 2024) == due_date("1041", 2024) == date(2025, 4, 15)
    assert extended_due_date("1040", 2024) == date(2025, 10, 15)
    assert extended_due_date("1065", 2024) == date(2025, 9, 15)
    assert extended_due_date("1040", 2025) == date(2026, 10, 15)
    assert extended_due_date("990", 2024) == date(2025, 11, 17)  # November 15 2025 is a Saturday


async def test_create_get_patch_delete(tp, office):
    h, users = office.headers, office.users
    created = await create_return(tp, h["admin"], office.client["id"], 2023, "1040", filing_status="single")
    rid = created["id"]
    assert created["client_name"] == office.client["name"] and created["due_date"] == "2024-04-15"
    assert created["preparer_notes"] == [] and created["workflow_history"] == []
    # One live return per client, year and type.
    assert_problem(await tp.http.post("/v1/returns", headers=h["admin"], json={
        "client_id": office.client["id"], "tax_year": 2023, "return_type": "1040"}), 409)
    # Bad input: unknown field, bad enum, bad year, filing status on a business return, unknown client.
    for body, status in [
        ({"client_id": office.client["id"], "tax_year": 2024, "return_type": "1040", "color": "red"}, 400),
        ({"client_id": office.client["id"], "tax_year": 2024, "return_type": "1099"}, 400),
        ({"client_id": office.client["id"], "tax_year": 1990, "return_type": "1040"}, 422),
        ({"client_id": office.client["id"], "tax_year": 2024, "return_type": "1065", "filing_status": "single"}, 422),
        ({"client_id": str(uuid.uuid4()), "tax_year": 2024, "return_type": "1040"}, 404),
    ]:
        assert_problem(await tp.http.post("/v1/returns", headers=h["admin"], json=body), status)

    patched = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "priority": "rush", "estimated_refund": 2500.10, "extension_filed": True,
        "preparer_notes": [{"note_text": "Check the W-2 box 12 codes"}]})
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert data["priority"] == "rush" and data["estimated_refund"] == 2500.10
    assert data["extension_filed"] and data["extension_date"] == "2024-10-15" and data["due_date"] == "2024-10-15"
    assert data["original_due_date"] == "2024-04-15"
    note = data["preparer_notes"][0]
    assert note["note_text"] == "Check the W-2 box 12 codes" and note["author_id"] == str(users["preparer"].id)
    edited = await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "preparer_notes": [{"id": note["id"], "note_text": "Box 12 checked"}]})
    assert edited.json()["data"]["preparer_notes"][0]["note_text"] == "Box 12 checked"
    # Preparers do not reassign; the client never sees notes; money keeps two decimals.
    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["preparer"], json={
        "assigned_reviewer_id": str(users["reviewer"].id)}), 403)
    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={
        "estimated_tax_due": 10.123}), 400)
    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={"status": "filed"}), 400)
    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={"preparer_notes": None}), 400)
    assert_problem(await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={
        "assigned_reviewer_id": str(users["preparer"].id)}), 422)
    assigned = await tp.http.patch(f"/v1/returns/{rid}", headers=h["admin"], json={
        "assigned_reviewer_id": str(users["reviewer"].id)})
    assert assigned.json()["data"]["assigned_reviewer_id"] == str(users["reviewer"].id)
    as_client = (await tp.http.get(f"/v1/returns/{rid}", headers=h["client"])).json()["data"]
    assert "preparer_notes" not in as_client

    assert_problem(await tp.http.delete(f"/v1/returns/{rid}", headers=h["preparer"]), 403)
    assert (await tp.http.delete(f"/v1/returns/{rid}", headers=h["ea_cpa"])).status_code == 204
    assert_problem(await tp.http.get(f"/v1/returns/{rid}", headers=h["admin"]), 404)


async def test_visibility_by_role(tp):
    office = await make_office(tp)
    h, users = office.headers, office.users
    mine = await create_return(tp, h["preparer"], office.client["id"], 2024)
    # Another client, not assigned to our preparer, whose return is assigned to them: visible by the return.
    other_client = await tp.new_client(h["admin"])
    assigned_by_return = await create_return(tp, h["admin"], other_client["id"], 2024,
                                             assigned_preparer_id=str(users["preparer"].id))
    hidden = await create_return(tp, h["admin"], other_client["id"], 2023)
    listed = (await tp.http.get("/v1/returns", headers=h["preparer"])).json()
    assert {r["id"] for r in listed["data"]} == {mine["id"], assigned_by_return["id"]}
    assert_problem(await tp.http.get(f"/v1/returns/{hidden['id']}", headers=h["preparer"]), 404)
    # The client sees their own only; staff of another firm see nothing.
    own = (await tp.http.get("/v1/returns", headers=h["client"])).json()
    assert [r["id"] for r in own["data"]] == [mine["id"]]
    assert_problem(await tp.http.get(f"/v1/returns/{hidden['id']}", headers=h["client"]), 404)
    _, _, stranger = await make_staff(tp, roles=("admin", "preparer"))
    assert_problem(await tp.http.get(f"/v1/returns/{mine['id']}", headers=stranger["admin"]), 404)
    assert_problem(await tp.http.post(f"/v1/returns/{mine['id']}/workflow/transition",
                                      headers=stranger["preparer"], json={"action": "start_prep"}), 404)
    assert_problem(await tp.http.post("/v1/returns", headers=h["client"], json={
        "client_id": office.client["id"], "tax_year": 2022, "return_type": "1040"}), 403)
    everyone = (await tp.http.get("/v1/returns?sort=-tax_year&limit=2", headers=h["reviewer"])).json()
    assert everyone["pagination"]["total_count"] == 3 and everyone["pagination"]["has_more"]
    by_client = (await tp.http.get(f"/v1/clients/{other_client['id']}/returns?tax_year=2023",
                                   headers=h["admin"])).json()
    assert [r["id"] for r in by_client["data"]] == [hidden["id"]]
    assert_problem(await tp.http.get("/v1/returns?status=almost_done", headers=h["admin"]), 400)
    assert_problem(await tp.http.get("/v1/returns?stuck=maybe", headers=h["admin"]), 400)
    assert (await tp.http.get("/v1/returns?stuck=true", headers=h["admin"])).json()["data"] == []
    sparse = (await tp.http.get("/v1/returns?fields=status,progress_percentage", headers=h["admin"])).json()
    assert set(sparse["data"][0]) == {"id", "status", "progress_percentage"}


async def test_workflow_state_and_progress(tp, office):
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    await transition(tp, h["preparer"], rid, "request_documents", "Sent the organizer")
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["preparer"])).json()["data"]
    assert state["current_status"] == "documents_pending" and state["days_in_status"] == 0
    assert state["assigned_to"] == str(office.users["preparer"].id)
    assert state["history"] == [{**state["history"][0], "from_status": "intake", "to_status": "documents_pending",
                                 "notes": "Sent the organizer", "action": "request_documents"}]
    listed = (await tp.http.get(f"/v1/returns?status=documents_pending&client_id={office.client['id']}",
                                headers=h["admin"])).json()["data"]
    assert [(r["id"], r["progress_percentage"]) for r in listed] == [(rid, 10)]
