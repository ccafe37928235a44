"""The operator CLI, run as operators run it: `taxpractice users create … --json` in its own process."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path

import pyotp

from domain.firm.models import DEFAULT_FIRM_ID
from tests.foundation.conftest import bearer, sql

CLI = str(Path(sys.executable).parent / "taxpractice")
PASSWORD = "operator chosen passphrase"


async def _run(tp, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    env = {**os.environ, "DATABASE_URL": tp.settings.database_url, "SSN_ENCRYPTION_KEY": tp.settings.ssn_encryption_key,
           **(env or {})}
    process = await asyncio.create_subprocess_exec(CLI, *args, env=env, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, out.decode(), err.decode()


def _email() -> str:
    return f"operator-{uuid.uuid4().hex[:10]}@firm.example.com"


async def test_users_create_prints_json_and_the_user_can_sign_in(tp):
    email = _email()
    code, out, err = await _run(tp, "users", "create", "--email", email, "--role", "admin", "--password", PASSWORD,
                                "--json")
    assert code == 0, err
    created = json.loads(out)
    assert set(created) == {"id", "email", "role", "totp_secret", "otpauth_uri"}
    assert created["email"] == email and created["role"] == "admin"
    assert created["otpauth_uri"].startswith("otpauth://totp/") and created["totp_secret"] in created["otpauth_uri"]
    # Without --firm-id the user belongs to the firm a fresh install starts with.
    assert (await sql(tp, "SELECT firm_id FROM users WHERE id = :u", u=uuid.UUID(created["id"])))[0][0] == \
        DEFAULT_FIRM_ID

    login = await tp.http.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200 and login.json()["status"] == "mfa_required"
    verified = await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": login.json()["mfa_token"],
                                                                "code": pyotp.TOTP(created["totp_secret"]).now()})
    assert verified.status_code == 200, verified.text
    users = await tp.http.get("/v1/admin/users", headers=bearer(verified.json()["access_token"]),
                              params={"email": email})
    assert users.status_code == 200 and [u["id"] for u in users.json()["data"]] == [created["id"]]


async def test_users_create_in_a_given_firm_and_its_refusals(tp, firm):
    email = _email()
    code, out, err = await _run(tp, "users", "create", "--email", email, "--role", "preparer", "--password", PASSWORD,
                                "--firm-id", str(firm), "--full-name", "Pat Preparer", "--json")
    assert code == 0, err
    user_id = uuid.UUID(json.loads(out)["id"])
    assert (await sql(tp, "SELECT firm_id, full_name FROM users WHERE id = :u", u=user_id))[0] == (firm, "Pat Preparer")

    refusals = await asyncio.gather(
        _run(tp, "users", "create", "--email", email.upper(), "--role", "admin", "--password", PASSWORD,
             "--firm-id", str(firm)),
        _run(tp, "users", "create", "--email", _email(), "--role", "admin", "--password", "short",
             "--firm-id", str(firm)),
        _run(tp, "users", "create", "--email", _email(), "--role", "admin", "--password", PASSWORD,
             "--firm-id", str(uuid.uuid4())),
        _run(tp, "users", "create", "--email", "jürgen@example.com", "--role", "admin", "--password", PASSWORD,
             "--firm-id", str(firm)),
    )
    (dup_code, _, dup_err), (weak_code, _, weak_err), (firm_code, _, firm_err), (mail_code, _, mail_err) = refusals
    assert mail_code == 2 and "must be ASCII" in mail_err  # the rule of request bodies: mail could not reach it
    assert dup_code == 2 and "already exists" in dup_err
    assert weak_code == 2 and "at least 12 characters" in weak_err
    assert firm_code != 0 and "no firm" in firm_err
    for _, _, stderr in refusals:
        assert "Traceback" not in stderr
    # Nothing was written by the refused commands.
    assert (await sql(tp, "SELECT count(*) FROM users WHERE firm_id = :f", f=firm))[0][0] == 1
