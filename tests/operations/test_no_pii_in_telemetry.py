"""Logs, metrics and traces never carry an SSN, a token or a secret: a run of the flows that handle them —
client create/update with SSNs, a refused SSN, staff sign-in with password and TOTP, a refresh, an invitation
accepted through its page, a magic link followed through its page, the service token, a workflow carrying the
request's trace — with every log line at DEBUG through the production JSON formatter, every span recorded and the
whole Prometheus exposition, then grepped for each value used."""

from __future__ import annotations

import re
import uuid

from prometheus_client import generate_latest

from tests.operations.telemetry import json_log_lines, recorded_spans
from tests.operations.test_dev_portal import link_in
from tests.support import PASSWORD

SSNS = ["512-34-9876", "623459871", "734-56-1298"]


async def test_no_ssn_token_or_secret_reaches_logs_metrics_or_traces(tp, firm, admin):
    secrets: list[str] = [*SSNS, "512349876", "734561298", PASSWORD, tp.settings.service_token,
                          admin["Authorization"].split()[1]]
    with json_log_lines() as lines, recorded_spans() as spans:
        created = await tp.http.post("/v1/clients", headers=admin, json={
            "client_type": "individual", "name": "Pia Private", "email": "pia.private@example.com", "ssn": SSNS[0]})
        assert created.status_code == 201, created.text
        client = created.json()["data"]
        assert (await tp.http.patch(f"/v1/clients/{client['id']}", headers=admin,
                                    json={"ssn": SSNS[1]})).status_code == 200
        refused = await tp.http.post("/v1/clients", headers=admin, json={
            "client_type": "individual", "name": "Bad", "ssn": SSNS[2] + "0"})
        assert refused.status_code == 400
        await tp.http.get("/v1/clients", headers=admin, params={"search": SSNS[0]})

        # Staff sign-in: password, TOTP, tokens, refresh.
        staff = await tp.new_user(firm, "ea_cpa")
        first = await tp.http.post("/v1/auth/login", json={"email": staff.email, "password": staff.password})
        code = staff.next_code()
        tokens = (await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": first.json()["mfa_token"],
                                                                    "code": code})).json()
        refreshed = await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 200, refreshed.text
        secrets += [first.json()["mfa_token"], tokens["access_token"], tokens["refresh_token"],
                    refreshed.json()["access_token"], refreshed.json()["refresh_token"], staff.totp_secret]
        wrong = await tp.http.post("/v1/auth/login", json={"email": staff.email, "password": "Not-The-Password-42"})
        assert wrong.status_code == 401
        secrets.append("Not-The-Password-42")

        # An invitation accepted through its page, and a magic link followed through its page.
        invited = "pii-invited@firm.example.com"
        await tp.http.post("/v1/admin/users", headers=admin, json={"email": invited, "full_name": "Ina Invited",
                                                                    "role": "preparer"})
        path = link_in(await tp.wait_for_mail(invited), "accept-invitation")
        invitation_token = path.split("token=", 1)[1]
        done = await tp.http.post("/portal/accept-invitation", data={"token": invitation_token,
                                                                      "password": PASSWORD, "confirm": PASSWORD})
        secrets += [invitation_token, re.search(r"<code id=totp-secret>([A-Z2-7]+)</code>", done.text).group(1)]
        await tp.http.post("/v1/portal/auth/magic-link", json={"email": client["email"]})
        path = link_in(await tp.wait_for_mail(client["email"]), "/login?token=")
        secrets.append(path.split("token=", 1)[1])
        landing = await tp.http.get(path)
        assert landing.status_code == 303
        from api.dev_portal import TOKEN_COOKIE

        secrets.append(landing.cookies[TOKEN_COOKIE])
        assert (await tp.http.get("/portal/", headers={"Cookie": f"{TOKEN_COOKIE}={landing.cookies[TOKEN_COOKIE]}"}
                                  )).status_code == 200

        # The service token, through a workflow: a return created and moved by the system actor.
        tax_return = await tp.http.post("/v1/returns", headers=admin, json={
            "client_id": client["id"], "tax_year": 2025, "return_type": "1040"})
        assert tax_return.status_code == 201, tax_return.text
        moved = await tp.http.post(f"/v1/returns/{tax_return.json()['data']['id']}/workflow/transition",
                                   headers={"Authorization": f"Bearer {tp.settings.service_token}"},
                                   json={"action": "documents_received"})
        assert moved.status_code == 200, moved.text

        # An unauthenticated call with a forged token, and a 404 with an SSN in the path.
        await tp.http.get("/v1/clients", headers={"Authorization": "Bearer forged.token.value-123"})
        await tp.http.get(f"/v1/clients/{SSNS[0]}", headers=admin)
        secrets.append("forged.token.value-123")

        logged = "\n".join(str(line) for line in lines())
        traced = "\n".join(f"{s.name} {dict(s.attributes)} {[dict(e.attributes) for e in s.events]}"
                           for s in spans())
    metrics = generate_latest().decode()

    assert len(lines()) > 20 and "taxpractice.request" in logged  # the capture did capture
    assert "RunWorkflow:" in traced or "StartWorkflow:" in traced
    for value in secrets:
        assert value not in logged, f"logged: {value[:12]}…"
        assert value not in traced, f"traced: {value[:12]}…: " + traced[max(traced.find(value) - 300, 0):][:400]
        assert value not in metrics, f"in metrics: {value[:12]}…"
    assert str(uuid.UUID(client["id"])) not in metrics  # no id in a label either
