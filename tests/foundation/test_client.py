"""Clients and contacts (spec §4): every endpoint, who sees what, SSN protection, account numbers, search,
soft delete."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timezone

from tests.foundation.conftest import assert_problem, sql

FULL_CLIENT = {
    "client_type": "individual",
    "name": "John Smith",
    "email": "john.smith@example.com",
    "phone": "+1-555-123-4567",
    "address": {"street1": "123 Main St", "street2": "Apt 4B", "city": "San Francisco", "state": "CA",
                "zip": "94102"},
    "ssn": "123-45-6789",
    "date_of_birth": "1980-05-15",
}
SSN_FORMS = ("123-45-6789", "123456789")


def _no_ssn(response) -> None:
    for form in SSN_FORMS:
        assert form not in response.text


async def test_create_and_read_a_client_as_the_spec_shows(tp, admin):
    response = await tp.http.post("/v1/clients", json=FULL_CLIENT, headers=admin)
    assert response.status_code == 201, response.text
    _no_ssn(response)
    created = response.json()["data"]
    year = datetime.now(timezone.utc).year
    assert created["account_number"] == f"C-{year}-00001"  # the firm's first client
    assert created["ssn_last4"] == "6789" and "ssn" not in created
    assert created["status"] == "active" and created["identity_verification_status"] == "unverified"
    assert created["address"] == FULL_CLIENT["address"] and created["date_of_birth"] == "1980-05-15"
    assert created["contacts"] == [] and created["assigned_preparer_id"] is None

    read = await tp.http.get(f"/v1/clients/{created['id']}", headers=admin)
    assert read.status_code == 200
    _no_ssn(read)
    assert read.json()["data"] == created
    listed = await tp.http.get("/v1/clients", headers=admin)
    _no_ssn(listed)
    (summary,) = listed.json()["data"]
    assert set(summary) == {"id", "account_number", "client_type", "name", "email", "phone", "status",
                            "assigned_preparer_id", "created_at", "updated_at"}


async def test_ssn_is_encrypted_at_rest_and_never_answered(tp, admin):
    created = await tp.new_client(admin, ssn="123456789")
    (row,) = await sql(tp, "SELECT ssn_encrypted, ssn_last4, c::text FROM clients c WHERE id = :id",
                       id=uuid.UUID(created["id"]))
    stored, last4, whole_row = bytes(row[0]), row[1], row[2]
    assert last4 == "6789"
    for form in SSN_FORMS:
        assert form.encode() not in stored and form not in whole_row
    # Stored, not dropped: the key opens it, bound to this client.
    assert tp.state.cipher.decrypt(stored, associated_data=uuid.UUID(created["id"]).bytes) == "123456789"

    patched = await tp.http.patch(f"/v1/clients/{created['id']}", json={"ssn": "234-56-7890"}, headers=admin)
    assert patched.status_code == 200 and patched.json()["data"]["ssn_last4"] == "7890"
    assert "234-56-7890" not in patched.text and "234567890" not in patched.text
    cleared = await tp.http.patch(f"/v1/clients/{created['id']}", json={"ssn": None}, headers=admin)
    assert cleared.json()["data"]["ssn_last4"] is None
    assert (await sql(tp, "SELECT ssn_encrypted FROM clients WHERE id = :id", id=uuid.UUID(created["id"])))[0][0] \
        is None


async def test_invalid_ssns_are_refused_without_being_repeated(tp, admin):
    for bad in ("123-45-678", "000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000",
                "abc-de-fghi", "12345678901"):
        response = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "X", "ssn": bad},
                                      headers=admin)
        body = assert_problem(response, 400, "validation")
        assert body["errors"][0]["field"] == "ssn"
        assert bad not in response.text
    assert (await tp.http.get("/v1/clients", headers=admin)).json()["pagination"]["total_count"] == 0


async def test_account_numbers_stay_gapless_and_unique_under_concurrency(tp, admin):
    created = await asyncio.gather(*(tp.new_client(admin) for _ in range(20)))
    year = datetime.now(timezone.utc).year
    numbers = sorted(c["account_number"] for c in created)
    assert numbers == [f"C-{year}-{n:05d}" for n in range(1, 21)]
    # Each firm counts on its own.
    other = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    assert (await tp.new_client(other))["account_number"] == f"C-{year}-00001"


async def test_a_refused_create_does_not_use_up_a_number(tp, firm, admin):
    first = await tp.new_client(admin)
    reviewer_id, _ = await tp.staff_session(firm, "reviewer")
    refused = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "X",
                                                      "assigned_preparer_id": str(reviewer_id)}, headers=admin)
    assert_problem(refused, 422)
    second = await tp.new_client(admin)
    assert int(second["account_number"][-5:]) == int(first["account_number"][-5:]) + 1


async def test_search_matches_name_email_and_account_number(tp, admin):
    john = await tp.new_client(admin, name="John Smith", email="jsmith@acme.example.com")
    jane = await tp.new_client(admin, name="Jane Smithers", email="jane@other.example.com")
    await tp.new_client(admin, name="Robert Brown", email="rb@example.com")

    async def found(term):
        response = await tp.http.get("/v1/clients", headers=admin, params={"search": term})
        assert response.status_code == 200, response.text
        return {c["id"] for c in response.json()["data"]}

    assert await found("smith") == {john["id"], jane["id"]}
    assert await found("SMI jo") == {john["id"]}
    assert await found("acme") == {john["id"]}
    assert await found("jane@other.example.com") == {jane["id"]}
    assert await found(john["account_number"]) == {john["id"]}
    assert await found(jane["account_number"][-5:]) == {jane["id"]}
    assert await found("nobody") == set()
    # Search combines with filters and pagination.
    page = (await tp.http.get("/v1/clients", headers=admin, params={"search": "smith", "limit": 1})).json()
    assert len(page["data"]) == 1 and page["pagination"]["has_more"] and page["pagination"]["total_count"] == 2


async def test_sql_looking_search_strings_are_just_text(tp, admin):
    # A fixed email: a random one ("client-b3…") made "a & b" a real match one run in sixteen.
    await tp.new_client(admin, name="Alice Smith", email="alice.smith@example.com")
    for term in ("'; DROP TABLE clients; --", "smith:* | !x", "a & b", "!!!", "(((", "\\", "%", "_", "' OR 1=1 --",
                 "smith' OR 'a'='a", "ünïcødé", "a" * 500, ":*", "<->"):
        response = await tp.http.get("/v1/clients", headers=admin, params={"search": term})
        assert response.status_code == 200, (term, response.text)
        assert response.json()["data"] == [] or term.startswith("smith")
    assert (await sql(tp, "SELECT count(*) FROM clients"))[0][0] > 0
    assert (await tp.http.get("/v1/clients", headers=admin, params={"search": "smith"})).json()["data"]


async def test_update_is_partial_and_merges_the_address(tp, admin):
    created = (await tp.http.post("/v1/clients", json=FULL_CLIENT, headers=admin)).json()["data"]
    response = await tp.http.patch(f"/v1/clients/{created['id']}", headers=admin,
                                   json={"phone": "+1-555-999-8888", "address": {"street1": "456 New Street"}})
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated["phone"] == "+1-555-999-8888"
    assert updated["address"] == {**FULL_CLIENT["address"], "street1": "456 New Street"}
    assert updated["name"] == "John Smith" and updated["ssn_last4"] == "6789"
    assert updated["updated_at"] > created["updated_at"]
    assert (await tp.http.get(f"/v1/clients/{created['id']}", headers=admin)).json()["data"] == updated

    cleared = await tp.http.patch(f"/v1/clients/{created['id']}", json={"phone": None, "address": {"street2": None}},
                                  headers=admin)
    assert cleared.json()["data"]["phone"] is None and cleared.json()["data"]["address"]["street2"] is None


async def test_bad_updates_change_nothing(tp, admin):
    created = await tp.new_client(admin, name="Stays Put")
    url = f"/v1/clients/{created['id']}"
    for body in ({}, {"name": None}, {"client_type": None}, {"status": "deleted"}, {"nickname": "x"},
                 {"address": {"zip": "ABCDE"}}, {"address": {"planet": "Mars"}}, {"email": "nope"},
                 {"address": {"street1": None}}, {"address": {"city": None, "street2": None}},
                 {"date_of_birth": "2999-01-01"}, {"phone": "call me"}):
        assert_problem(await tp.http.patch(url, json=body, headers=admin), 400, "validation")
    assert_problem(await tp.http.patch(f"/v1/clients/{uuid.uuid4()}", json={"name": "X"}, headers=admin), 404)
    assert (await tp.http.get(url, headers=admin)).json()["data"]["name"] == "Stays Put"


async def test_emails_must_be_mailable_dates_iso_strings_and_names_one_line(tp, admin):
    """An address with non-ASCII before the @ needs SMTPUTF8, which our mail lacks; a non-ASCII domain is kept in
    its ASCII form. A number is not a date. A name becomes a mail subject: no line breaks."""
    base = {"client_type": "individual", "name": "X"}
    for field, value in (("email", "jürgen@exämple.com"), ("date_of_birth", 0), ("date_of_birth", "0"),
                         ("date_of_birth", "1980-05-15T00:00:00+14:00"), ("name", "Smith\r\nBcc: x@example.com"),
                         ("name", "Smith\u2028Jones"), ("name", "Smith\x1b[2J")):
        refused = assert_problem(await tp.http.post("/v1/clients", json={**base, field: value}, headers=admin),
                                 400, "validation")
        assert [e["field"] for e in refused["errors"]] == [field]
    assert (await tp.http.get("/v1/clients", headers=admin)).json()["pagination"]["total_count"] == 0

    created = await tp.new_client(admin, email="Anna@Exämple.com")
    assert created["email"] == "Anna@xn--exmple-cua.com"
    url = f"/v1/clients/{created['id']}"
    for body in ({"email": "jürgen@example.com"}, {"date_of_birth": 315532800}, {"name": "a\nb"}):
        assert_problem(await tp.http.patch(url, json=body, headers=admin), 400, "validation")
    contact = {"name": "Jürgen", "email": "jürgen@example.com"}
    assert_problem(await tp.http.post(f"{url}/contacts", json=contact, headers=admin), 400, "validation")
    assert (await tp.http.get(url, headers=admin)).json()["data"] == created  # nothing changed or added


async def test_soft_delete_is_for_admins_only(tp, firm, admin):
    created = await tp.new_client(admin)
    url = f"/v1/clients/{created['id']}"
    for role in ("ea_cpa", "reviewer", "preparer"):
        _, headers = await tp.staff_session(firm, role)
        assert_problem(await tp.http.delete(url, headers=headers), 403, "forbidden")
    response = await tp.http.delete(url, headers=admin)
    assert response.status_code == 204 and response.content == b""
    assert_problem(await tp.http.get(url, headers=admin), 404)
    assert_problem(await tp.http.patch(url, json={"name": "Back"}, headers=admin), 404)
    assert_problem(await tp.http.delete(url, headers=admin), 404)
    assert (await tp.http.get("/v1/clients", headers=admin)).json()["pagination"]["total_count"] == 0
    # Soft: the row and its history stay.
    (deleted_at,) = (await sql(tp, "SELECT deleted_at FROM clients WHERE id = :id", id=uuid.UUID(created["id"])))[0]
    assert deleted_at is not None


async def test_who_sees_which_client(tp, firm, admin):
    preparer_id, preparer = await tp.staff_session(firm, "preparer")
    _, other_preparer = await tp.staff_session(firm, "preparer")
    assigned = await tp.new_client(admin, assigned_preparer_id=str(preparer_id))
    unassigned = await tp.new_client(admin)
    both = {assigned["id"], unassigned["id"]}

    for role in ("admin", "ea_cpa", "reviewer"):
        _, headers = await tp.staff_session(firm, role)
        listed = (await tp.http.get("/v1/clients", headers=headers)).json()
        assert {c["id"] for c in listed["data"]} == both and listed["pagination"]["total_count"] == 2
        for client in (assigned, unassigned):
            assert (await tp.http.get(f"/v1/clients/{client['id']}", headers=headers)).status_code == 200

    listed = (await tp.http.get("/v1/clients", headers=preparer)).json()
    assert [c["id"] for c in listed["data"]] == [assigned["id"]] and listed["pagination"]["total_count"] == 1
    assert (await tp.http.get(f"/v1/clients/{assigned['id']}", headers=preparer)).status_code == 200
    assert (await tp.http.patch(f"/v1/clients/{assigned['id']}", json={"phone": "555-0100"},
                                headers=preparer)).status_code == 200
    unassigned_url = f"/v1/clients/{unassigned['id']}"
    assert_problem(await tp.http.get(unassigned_url, headers=preparer), 404)
    assert_problem(await tp.http.patch(unassigned_url, json={"name": "Mine now"}, headers=preparer), 404)
    assert_problem(await tp.http.get(f"{unassigned_url}/contacts", headers=preparer), 404)
    assert (await tp.http.get("/v1/clients", headers=other_preparer)).json()["data"] == []

    # Another firm's staff, whatever their role, find nothing.
    outsider = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    assert (await tp.http.get("/v1/clients", headers=outsider)).json()["data"] == []
    for client in (assigned, unassigned):
        url = f"/v1/clients/{client['id']}"
        assert_problem(await tp.http.get(url, headers=outsider), 404)
        assert_problem(await tp.http.patch(url, json={"name": "Stolen"}, headers=outsider), 404)
        assert_problem(await tp.http.delete(url, headers=outsider), 404)
        assert_problem(await tp.http.get(f"{url}/contacts", headers=outsider), 404)
        assert_problem(await tp.http.post(f"{url}/contacts", json={"name": "Spy"}, headers=outsider), 404)
    assert (await tp.http.get(unassigned_url, headers=admin)).json()["data"]["name"] == unassigned["name"]


async def test_assigning_preparers(tp, firm, admin):
    preparer_id, preparer = await tp.staff_session(firm, "preparer")
    colleague_id, _ = await tp.staff_session(firm, "preparer")
    reviewer_id, reviewer = await tp.staff_session(firm, "reviewer")
    foreign_preparer_id, _ = await tp.staff_session(await tp.new_firm(), "preparer")

    # A preparer's new client is theirs; they cannot hand it, or take one, elsewhere.
    own = await tp.new_client(preparer)
    assert own["assigned_preparer_id"] == str(preparer_id)
    assert_problem(await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "X",
                                                           "assigned_preparer_id": str(colleague_id)},
                                      headers=preparer), 403)
    assert_problem(await tp.http.patch(f"/v1/clients/{own['id']}", json={"assigned_preparer_id": str(colleague_id)},
                                       headers=preparer), 403)

    # Senior staff reassign, but only to an active preparer of their own firm.
    moved = await tp.http.patch(f"/v1/clients/{own['id']}", json={"assigned_preparer_id": str(colleague_id)},
                                headers=reviewer)
    assert moved.status_code == 200 and moved.json()["data"]["assigned_preparer_id"] == str(colleague_id)
    assert_problem(await tp.http.get(f"/v1/clients/{own['id']}", headers=preparer), 404)
    for bad in (reviewer_id, foreign_preparer_id, uuid.uuid4()):
        body = assert_problem(await tp.http.patch(f"/v1/clients/{own['id']}",
                                                  json={"assigned_preparer_id": str(bad)}, headers=admin), 422)
        assert body["errors"][0]["field"] == "assigned_preparer_id"
    filtered = (await tp.http.get("/v1/clients", headers=admin,
                                  params={"assigned_preparer_id": str(colleague_id)})).json()["data"]
    assert [c["id"] for c in filtered] == [own["id"]]
    unassigned = await tp.http.patch(f"/v1/clients/{own['id']}", json={"assigned_preparer_id": None}, headers=admin)
    assert unassigned.json()["data"]["assigned_preparer_id"] is None


async def test_contacts_lifecycle(tp, firm, admin):
    client = await tp.new_client(admin)
    other_client = await tp.new_client(admin)
    base = f"/v1/clients/{client['id']}/contacts"
    spouse = {"name": "Jane Smith", "relationship": "spouse", "email": "jane.smith@example.com",
              "phone": "+1-555-234-5678", "is_primary": False}
    response = await tp.http.post(base, json=spouse, headers=admin)
    assert response.status_code == 201, response.text
    contact = response.json()["data"]
    assert {k: contact[k] for k in spouse} == spouse and contact["id"]

    listed = (await tp.http.get(base, headers=admin)).json()
    assert listed["data"] == [contact] and listed["pagination"]["total_count"] == 1
    assert (await tp.http.get(f"/v1/clients/{client['id']}", headers=admin)).json()["data"]["contacts"] == [contact]
    assert (await tp.http.get(f"/v1/clients/{other_client['id']}/contacts", headers=admin)).json()["data"] == []

    patched = await tp.http.patch(f"{base}/{contact['id']}", json={"is_primary": True}, headers=admin)
    assert patched.status_code == 200 and patched.json()["data"] == {**contact, "is_primary": True}
    # One primary contact per client: a new primary takes over, and back again.
    parent = (await tp.http.post(base, json={"name": "Pat Smith", "relationship": "parent", "is_primary": True},
                                 headers=admin)).json()["data"]
    primaries = {c["id"] for c in (await tp.http.get(base, headers=admin)).json()["data"] if c["is_primary"]}
    assert primaries == {parent["id"]}
    assert (await tp.http.patch(f"{base}/{contact['id']}", json={"is_primary": True}, headers=admin)).status_code == 200
    primaries = {c["id"] for c in (await tp.http.get(base, headers=admin)).json()["data"] if c["is_primary"]}
    assert primaries == {contact["id"]}
    assert (await tp.http.delete(f"{base}/{parent['id']}", headers=admin)).status_code == 204
    # A contact is reached through its own client only.
    wrong_parent = f"/v1/clients/{other_client['id']}/contacts/{contact['id']}"
    assert_problem(await tp.http.patch(wrong_parent, json={"name": "X"}, headers=admin), 404)
    assert_problem(await tp.http.delete(wrong_parent, headers=admin), 404)
    for body in ({}, {"name": None}, {"is_primary": None}, {"name": "X", "age": 3}, {"phone": "call me"},
                 {"name": "Jane\nSmith"}):
        assert_problem(await tp.http.patch(f"{base}/{contact['id']}", json=body, headers=admin), 400)
    assert_problem(await tp.http.post(base, json={"relationship": "spouse"}, headers=admin), 400)

    # Preparers edit contacts of their assigned clients only.
    _, preparer = await tp.staff_session(firm, "preparer")
    assert_problem(await tp.http.post(base, json={"name": "X"}, headers=preparer), 404)

    assert (await tp.http.delete(f"{base}/{contact['id']}", headers=admin)).status_code == 204
    assert (await tp.http.get(base, headers=admin)).json()["data"] == []
    assert_problem(await tp.http.delete(f"{base}/{contact['id']}", headers=admin), 404)


async def test_client_lists_only_hold_the_firms_clients(tp, admin):
    await tp.new_client(admin, name="Ours")
    outsider = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    await tp.new_client(outsider, name="Theirs")
    names = [c["name"] for c in (await tp.http.get("/v1/clients", headers=admin)).json()["data"]]
    assert names == ["Ours"]
    assert re.match(r"^C-\d{4}-\d{5}$", (await tp.new_client(admin))["account_number"])
