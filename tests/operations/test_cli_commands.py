"""The operator's commands, run as an operator runs them: `taxpractice …` in its own process, against the
suite's Postgres, and — for the commands that act as a signed-in user — against the app served over real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from domain.outbox.models import OutboxEntry
from domain.tax_return.models import TaxReturn
from tests.foundation.conftest import sql
from tests.support import PASSWORD

CLI = str(Path(sys.executable).parent / "taxpractice")


async def taxpractice(tp, *args: str, api_url: str | None = None, **env) -> tuple[int, str, str]:
    environment = {**os.environ, "DATABASE_URL": tp.settings.database_url,
                   "SSN_ENCRYPTION_KEY": tp.settings.ssn_encryption_key, **env}
    if api_url:
        environment["API_BASE_URL"] = api_url
    process = await asyncio.create_subprocess_exec(CLI, *args, env=environment, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


async def test_users_list_and_deactivate(tp, firm):
    user = await tp.new_user(firm, "preparer")
    code, out, err = await taxpractice(tp, "users", "list", "--firm-id", str(firm), "--json")
    assert code == 0, err
    assert user.email in {u["email"] for u in json.loads(out)}
    code, out, err = await taxpractice(tp, "users", "deactivate", "--email", user.email, "--json")
    assert code == 0, err and json.loads(out)["active"] is False
    code, out, _ = await taxpractice(tp, "users", "list", "--firm-id", str(firm), "--json")
    assert user.email not in {u["email"] for u in json.loads(out)}
    assert (await sql(tp, "SELECT count(*) FROM audit_log WHERE action = 'user.deactivate' AND resource_id = :r",
                      r=str(user.id)))[0][0] == 1
    code, _, err = await taxpractice(tp, "users", "deactivate", "--email", "nobody@firm.example.com")
    assert code == 1 and "no user" in err and "Traceback" not in err


async def test_users_list_prints_a_table_for_a_person(tp, firm):
    await tp.staff_session(firm, "reviewer")
    code, out, err = await taxpractice(tp, "users", "list", "--firm-id", str(firm))
    assert code == 0, err
    assert "reviewer" in out and "email" in out


async def test_firms_rename_keeps_the_old_name_in_the_audit_log(tp, firm):
    code, out, err = await taxpractice(tp, "firms", "rename", "--firm-id", str(firm), "--name", "Renamed & Co", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "Renamed & Co"
    [(details,)] = await sql(tp, "SELECT details FROM audit_log WHERE action = 'firm.rename' AND firm_id = :f", f=firm)
    assert details["old_name"] == "Operations firm" and details["new_name"] == "Renamed & Co"
    code, _, err = await taxpractice(tp, "firms", "rename", "--firm-id", str(firm), "--name", " ")
    assert code == 2 and "Traceback" not in err


async def test_returns_stuck_lists_stuck_returns_with_their_workflow_ids(tp, firm, admin):
    client = await tp.new_client(admin)
    return_id = uuid.uuid4()
    async with tp.state.sessionmaker.begin() as session:
        session.add(TaxReturn(id=return_id, firm_id=firm, client_id=uuid.UUID(client["id"]), tax_year=2033,
                              return_type="1040", status="ready_for_review",
                              stuck_since=datetime.now(timezone.utc) - timedelta(days=2), extension_filed=False,
                              due_date=datetime(2034, 4, 15).date(), priority="normal",
                              federal_status="not_started", state_filings=[]))
    code, out, err = await taxpractice(tp, "returns", "stuck", "--firm-id", str(firm), "--json")
    assert code == 0, err
    [row] = [r for r in json.loads(out) if r["return_id"] == str(return_id)]
    assert row["status"] == "ready_for_review" and row["workflow_id"] == f"tax-return:{return_id}"
    assert row["stuck_for"].startswith("2 d")


async def test_outbox_status_shows_depth_and_failing_entries(tp):
    entry = OutboxEntry(id=uuid.uuid4(), entity_type="test", entity_id="cli", kind="test.cli_kind", payload={},
                        attempts=3, last_error="ConnectError: the workflow engine was away")
    async with tp.state.sessionmaker.begin() as session:
        session.add(entry)
    try:
        code, out, err = await taxpractice(tp, "outbox", "status", "--json")
        assert code == 0, err
        status = json.loads(out)
        assert {"kind": "test.cli_kind", "entries": 1, "failing": 1}.items() <= \
            [k for k in status["kinds"] if k["kind"] == "test.cli_kind"][0].items()
        assert any(f["id"] == str(entry.id) and "away" in f["last_error"] for f in status["failing"])
        code, out, err = await taxpractice(tp, "outbox", "status")
        assert code == 0 and "outbox depth" in out
    finally:
        async with tp.state.sessionmaker.begin() as session:
            await session.delete(await session.get(OutboxEntry, entry.id))


async def test_login_prints_a_token_for_scripts_and_audit_export_waits_and_downloads(tp, firm, api_url, tmp_path):
    admin = await tp.new_user(firm, "admin")
    code, out, err = await taxpractice(tp, "login", "--email", admin.email, "--password", PASSWORD,
                                       "--totp-secret", admin.totp_secret, api_url=api_url)
    assert code == 0, err
    token = out.strip()
    assert token.count(".") == 2 and "\n" not in token
    assert (await tp.http.get("/v1/admin/users", headers={"Authorization": f"Bearer {token}"})).status_code == 200
    # Again at once, most likely within the same 30-second step, whose code is spent: it waits for the next code.
    code, out, err = await taxpractice(tp, "login", "--email", admin.email, "--password", PASSWORD,
                                       "--totp-secret", admin.totp_secret, api_url=api_url)
    assert code == 0 and out.strip() != token, err

    target = tmp_path / "audit.json"
    code, out, err = await taxpractice(tp, "audit", "export", "--start", "2020-01-01", "--end", "2100-01-01",
                                       "--wait", "--output", str(target), "--json", api_url=api_url,
                                       TAXPRACTICE_TOKEN=token)
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "completed" and result["file"] == str(target)
    assert target.stat().st_size == result["size_bytes"] > 0

    code, _, err = await taxpractice(tp, "login", "--email", admin.email, "--password", "wrong password!!",
                                     "--code", "000000", api_url=api_url)
    assert code == 2 and "401" in err and "Traceback" not in err


async def test_a_command_group_is_one_module(tp):
    """Other branches add `webhooks` and `keys`: a module in cli/commands with register(root) is all it takes."""
    from cli import commands
    from cli.main import app

    modules = {p.stem for p in Path(commands.__file__).parent.glob("*.py")} - {"__init__"}
    names = {group.name for group in app.registered_groups} | {c.name for c in app.registered_commands}
    assert modules <= names | {"migrate", "login"}
    code, out, _ = await taxpractice(tp, "--help")
    assert code == 0 and all(name in out for name in ("users", "returns", "outbox", "audit", "demo", "login"))


async def test_webhooks_deliveries_and_redeliver_through_the_command(tp, firm):
    """The typer wiring of cli/webhooks.py: the log of an endpoint, and a redelivery left for the outbox relay."""
    _, admin = await tp.staff(firm, "admin")
    endpoint = (await tp.http.post("/v1/admin/webhooks", headers=admin, json={
        "url": "https://93.184.215.14/hook", "events": ["invoice.paid"]})).json()["data"]
    tested = await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=admin)
    assert tested.status_code == 202, tested.text
    code, out, err = await taxpractice(tp, "webhooks", "deliveries", endpoint["id"], "--json")
    assert code == 0, err
    [delivery] = json.loads(out)
    assert delivery["event_type"] == "webhook.test"
    code, out, err = await taxpractice(tp, "webhooks", "redeliver", delivery["id"], "--json")
    assert code == 0, err
    again = json.loads(out)["delivery_id"]
    [(redelivery_of,)] = await sql(tp, "SELECT redelivery_of FROM webhook_deliveries WHERE id = :d",
                                   d=uuid.UUID(again))
    assert str(redelivery_of) == delivery["id"]
    code, _, err = await taxpractice(tp, "webhooks", "redeliver", str(uuid.uuid4()))
    assert code == 2 and "not found" in err.lower() and "Traceback" not in err


async def test_keys_rotate_and_portal_commands_are_wired(tp):
    code, out, err = await taxpractice(tp, "keys", "rotate", "--json")
    assert code == 0, err
    assert "clients.ssn_encrypted" in json.loads(out)
    code, _, err = await taxpractice(tp, "portal", "check", str(uuid.uuid4()))
    assert code == 2 and "no portal connection" in (err + _)
