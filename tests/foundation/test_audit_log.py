"""The audit log: one row per write and per read of client PII, with who, what, on which record, from where and
when; append-only in the database itself; never holding an SSN."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from domain.db import make_engine
from tests.foundation.conftest import bearer, sql


async def _rows_of_request(tp, request_id: str) -> list[dict]:
    rows = await sql(tp, "SELECT actor_id, actor_role, action, resource_type, resource_id, client_id, correlation_id, "
                         "request_id, host(ip_address) AS ip, occurred_at, details FROM audit_log "
                         "WHERE request_id = :r ORDER BY id", r=request_id)
    return [dict(row._mapping) for row in rows]


async def _one_row(tp, response) -> dict:
    rows = await _rows_of_request(tp, response.json()["meta"]["request_id"])
    assert len(rows) == 1, rows
    return rows[0]


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET action = 'nothing.happened' WHERE firm_id = :f",
    "DELETE FROM audit_log WHERE firm_id = :f",
    "TRUNCATE audit_log",
])
async def test_the_database_refuses_to_change_or_remove_audit_rows(tp, admin, firm, statement):
    await tp.new_client(admin)
    before = await sql(tp, "SELECT id, action FROM audit_log WHERE firm_id = :f ORDER BY id", f=firm)
    assert before
    async with tp.state.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            # The app's role is refused by its privileges (tests/foundation/test_audit_chain.py); the trigger
            # stands behind them for the owner.
            with pytest.raises(DBAPIError, match="append-only|permission denied"):
                await conn.execute(text(statement), {"f": firm})
        finally:
            await transaction.rollback()  # whatever happened, leave the shared database as it was
    assert await sql(tp, "SELECT id, action FROM audit_log WHERE firm_id = :f ORDER BY id", f=firm) == before


async def test_a_write_records_who_what_which_where_and_when(tp, firm):
    user_id, headers = await tp.staff_session(firm, "ea_cpa")
    started = datetime.now(timezone.utc)
    response = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Audited"},
                                  headers={**headers, "X-Correlation-ID": "case-7"})
    client_id = response.json()["data"]["id"]
    row = await _one_row(tp, response)
    assert row["actor_id"] == user_id and row["actor_role"] == "ea_cpa"
    assert row["action"] == "client.create" and row["resource_type"] == "client"
    assert row["resource_id"] == client_id and str(row["client_id"]) == client_id
    assert row["correlation_id"] == "case-7" and row["ip"] == "127.0.0.1"
    assert started - timedelta(seconds=5) <= row["occurred_at"] <= datetime.now(timezone.utc) + timedelta(seconds=5)


async def test_every_write_and_every_pii_read_is_recorded_once(tp, firm, admin):
    preparer_id, _ = await tp.staff_session(firm, "preparer")
    created = (await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "C", "ssn": "123-45-6789"},
                                  headers=admin)).json()["data"]
    client_url = f"/v1/clients/{created['id']}"
    contact = await tp.http.post(f"{client_url}/contacts", json={"name": "Spouse"}, headers=admin)
    contact_url = f"{client_url}/contacts/{contact.json()['data']['id']}"
    invited = await tp.http.post("/v1/admin/users", headers=admin, json={
        "email": f"x-{uuid.uuid4().hex[:8]}@firm.example.com", "full_name": "X", "role": "reviewer"})
    expectations = [
        (await tp.http.get(client_url, headers=admin), "client.read_pii", "client"),
        (await tp.http.get("/v1/clients", headers=admin), "client.list", "client"),
        (await tp.http.get(f"{client_url}/contacts", headers=admin), "contact.list", "client"),
        (await tp.http.patch(client_url, json={"phone": "555-0100", "ssn": "234-56-7890"}, headers=admin),
         "client.update", "client"),
        (contact, "contact.create", "client_contact"),
        (await tp.http.patch(contact_url, json={"is_primary": True}, headers=admin), "contact.update",
         "client_contact"),
        (invited, "user.create", "user"),
        (await tp.http.patch(f"/v1/admin/users/{preparer_id}", json={"full_name": "P"}, headers=admin),
         "user.update", "user"),
        (await tp.http.patch("/v1/admin/config", json={"session_timeout_minutes": 45}, headers=admin),
         "config.update", "system_config"),
    ]
    for response, action, resource_type in expectations:
        assert response.status_code in (200, 201), response.text
        row = await _one_row(tp, response)
        assert (row["action"], row["resource_type"]) == (action, resource_type)

    # 204 answers carry no body: find their rows by the X-Request-ID header instead.
    for response, action in ((await tp.http.delete(contact_url, headers=admin), "contact.delete"),
                             (await tp.http.post(f"/v1/admin/users/{preparer_id}/deactivate", headers=admin),
                              "user.deactivate"),
                             (await tp.http.delete(client_url, headers=admin), "client.delete")):
        assert response.status_code in (200, 204)
        rows = await _rows_of_request(tp, response.headers["x-request-id"])
        assert [r["action"] for r in rows] == [action]

    # The SSN went through create and update; it reached no audit row.
    for (details,) in await sql(tp, "SELECT details::text FROM audit_log WHERE firm_id = :f", f=firm):
        assert details is None or not re.search(r"123-?45-?6789|234-?56-?7890", details)


async def test_a_portal_clients_reads_are_recorded_as_the_client(tp, admin):
    email = f"portal-{uuid.uuid4().hex[:10]}@example.com"
    client = await tp.new_client(admin, email=email)
    await tp.http.post("/v1/portal/auth/magic-link", json={"email": email})
    token = re.search(r"Token: (\S+)", (await tp.wait_for_mail(email))["text"]).group(1)
    access = (await tp.http.post("/v1/portal/auth/verify-link", json={"token": token})).json()["access_token"]
    response = await tp.http.get(f"/v1/clients/{client['id']}", headers=bearer(access))
    row = await _one_row(tp, response)
    assert row["action"] == "client.read_pii" and row["actor_role"] == "client"
    assert str(row["actor_id"]) == client["id"] and str(row["client_id"]) == client["id"]


async def test_refused_requests_write_nothing(tp, firm, admin):
    _, reviewer = await tp.staff_session(firm, "reviewer")
    client = await tp.new_client(admin)
    refused = [
        await tp.http.delete(f"/v1/clients/{client['id']}", headers=reviewer),  # 403
        await tp.http.get(f"/v1/clients/{uuid.uuid4()}", headers=admin),  # 404
        await tp.http.post("/v1/clients", json={"client_type": "individual"}, headers=admin),  # 400
        await tp.http.patch("/v1/admin/config", json={"mfa_required": None}, headers=admin),  # 400
    ]
    for response in refused:
        assert response.status_code >= 400
        assert await _rows_of_request(tp, response.headers["x-request-id"]) == []


async def test_sign_in_events_are_audited(tp, firm):
    user = await tp.new_user(firm, "preparer")
    wrong = await tp.http.post("/v1/auth/login", json={"email": user.email, "password": "not the password"})
    assert wrong.status_code == 401
    tokens = await tp.login(user)
    await tp.http.post("/v1/auth/logout", headers=bearer(tokens["access_token"]))
    rows = await sql(tp, "SELECT action, details FROM audit_log WHERE firm_id = :f AND actor_id = :u ORDER BY id",
                     f=firm, u=user.id)
    actions = [row.action for row in rows]
    assert actions == ["auth.login_failed", "auth.login", "auth.logout"]
    assert rows[0].details["reason"] == "wrong_password"
    assert "not the password" not in str(rows[0].details)


async def test_a_read_is_audited_after_the_audit_writers_connection_dies(tp, firm, admin):
    """The read audit of lists keeps one connection between batches; killed under it (as a Postgres restart
    would), the next list is still audited, on a new connection, and answered."""
    await tp.new_client(admin)
    assert (await tp.http.get("/v1/clients", headers=admin)).status_code == 200  # the writer holds its connection
    superuser = make_engine(tp.settings.database_url)  # no app role: it may see and end other sessions
    try:
        async with superuser.connect() as conn:
            killed = (await conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE pid <> pg_backend_pid() AND query LIKE 'INSERT INTO audit_log%'"))).scalars().all()
    finally:
        await superuser.dispose()
    assert killed and all(killed)
    response = await tp.http.get("/v1/clients", headers=admin)
    assert response.status_code == 200, response.text
    assert (await _one_row(tp, response))["action"] == "client.list"
