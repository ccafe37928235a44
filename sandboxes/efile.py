"""E-file transmitter sandbox: takes submissions, acknowledges them after a delay, by poll and by signed webhook.

    POST /v1/submissions                          {submission_id, jurisdiction, return_type, tax_year,
                                                   taxpayer_name, federal_submission_id} → {submission_id,
                                                   received_at} (the same answer again for the same ID)
    GET  /v1/submissions/{id}/acknowledgement     {submission_id, status: pending|accepted|rejected,
                                                   confirmation_number, acceptance_date, errors: [...]}
    POST /_sandbox/config                         {ack_delay_s, webhooks} (tests, development)
    POST /_sandbox/outage                         {failures}: the next N submissions are recorded, then
                                                   answered 503 (a transmitter that filed but lost its answer)
    GET  /_sandbox/submissions                    everything received, with how often each was filed
    GET  /_sandbox/outbox                         the signed webhook deliveries not yet drained (tests)

Acknowledgements are decided by test data, the way Stripe's test cards work (docs/efile.md): a taxpayer whose
last name is `Mismatch` is rejected with IND-031-04 (data mismatch), `Duplicate` with R0000-902-01 (duplicate),
`Glitch` with a technical rejection (X0000-005) the first time and accepted when retransmitted; anyone else is
accepted. Webhooks `transmission.pending` (at receipt), `transmission.accepted` and `transmission.rejected` are
signed `X-Efiling-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
`python -m sandboxes.efile --port 8044 --webhook-url http://127.0.0.1:8000/v1/webhooks/efiling`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from datetime import datetime, timezone

from fastapi import FastAPI, Header, HTTPException

from sandboxes.webhook_outbox import Outbox, ThreadedServer, serve_from_command_line

SCENARIOS = {
    "mismatch": {"error_code": "IND-031-04", "category": "data_mismatch", "severity": "reject_and_stop",
                 "message": "Primary taxpayer's prior-year AGI or Self-Select PIN does not match the e-File database",
                 "field": "PriorYearAGIAmt"},
    "duplicate": {"error_code": "R0000-902-01", "category": "duplicate", "severity": "reject_and_stop",
                  "message": "Taxpayer TIN in the Return Header has already been used to file a return this year",
                  "field": "PrimarySSN"},
    "glitch": {"error_code": "X0000-005", "category": "technical", "severity": "reject",
               "message": "The XML data has failed schema validation (transient processing error)", "field": None},
}


def _last_name(name: str) -> str:
    words = name.split()
    return words[-1].lower() if words else ""


class EfileSandbox:
    def __init__(self, outbox: Outbox, ack_delay_s: float = 3.0):
        self.outbox, self.ack_delay_s, self.webhooks = outbox, ack_delay_s, True
        self.submissions: dict[str, dict] = {}
        self.glitched: set[tuple] = set()  # (taxpayer, jurisdiction, year) already given their technical reject
        self.outage_failures = 0
        self.confirmations = 0
        self._lock = threading.Lock()

    def decide(self, sub: dict) -> dict:
        scenario = SCENARIOS.get(_last_name(sub["taxpayer_name"]))
        key = (sub["taxpayer_name"], sub["jurisdiction"], sub["tax_year"])
        if scenario is not None and scenario["category"] == "technical":
            if key in self.glitched:
                scenario = None
            else:
                self.glitched.add(key)
        if scenario is None:
            with self._lock:
                self.confirmations += 1
                number = f"{'IRS' if sub['jurisdiction'] == 'federal' else sub['jurisdiction']}{self.confirmations:09d}"
            return {"status": "accepted", "confirmation_number": number,
                    "acceptance_date": datetime.now(timezone.utc).date().isoformat(), "errors": []}
        value = sub["taxpayer_name"] if scenario["field"] == "PrimarySSN" else None
        return {"status": "rejected", "confirmation_number": None, "acceptance_date": None, "errors": [{
            "error_code": scenario["error_code"], "category": scenario["category"],
            "severity": scenario["severity"], "message": scenario["message"],
            "field": scenario["field"], "data_value": value}]}

    def acknowledge(self, submission_id: str) -> None:
        sub = self.submissions[submission_id]
        sub["ack"] = self.decide(sub)
        if self.webhooks:
            self.outbox.emit(f"transmission.{sub['ack']['status']}", self.ack_body(sub))

    @staticmethod
    def ack_body(sub: dict) -> dict:
        ack = sub.get("ack") or {"status": "pending", "confirmation_number": None, "acceptance_date": None,
                                 "errors": []}
        return {"submission_id": sub["submission_id"], "jurisdiction": sub["jurisdiction"], **ack}


def create_app(api_key: str, sandbox: EfileSandbox) -> FastAPI:
    app = FastAPI(title="E-file transmitter sandbox")

    def check(authorization: str | None) -> None:
        if authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")

    @app.post("/v1/submissions")
    async def submit(body: dict, authorization: str | None = Header(None)):
        check(authorization)
        submission_id = body.get("submission_id")
        if not isinstance(submission_id, str) or len(submission_id) != 20:
            raise HTTPException(400, "submission_id must be MeF's 20 characters")
        if not body.get("taxpayer_name") or not body.get("jurisdiction"):
            raise HTTPException(400, "taxpayer_name and jurisdiction are required")
        existing = sandbox.submissions.get(submission_id)
        if existing is None:
            existing = {"submission_id": submission_id, "jurisdiction": body["jurisdiction"],
                        "return_type": body.get("return_type"), "tax_year": body.get("tax_year"),
                        "taxpayer_name": body["taxpayer_name"],
                        "federal_submission_id": body.get("federal_submission_id"),
                        "received_at": datetime.now(timezone.utc).isoformat(), "filed": 1, "ack": None}
            sandbox.submissions[submission_id] = existing
            if sandbox.webhooks:
                sandbox.outbox.emit("transmission.pending", sandbox.ack_body(existing))
            asyncio.get_running_loop().call_later(sandbox.ack_delay_s, sandbox.acknowledge, submission_id)
        else:
            existing["repeats"] = existing.get("repeats", 0) + 1  # answered from the record, never filed again
        if sandbox.outage_failures > 0:
            sandbox.outage_failures -= 1
            raise HTTPException(503, "transmitter unavailable")
        return {"submission_id": submission_id, "received_at": existing["received_at"]}

    @app.get("/v1/submissions/{submission_id}/acknowledgement")
    async def acknowledgement(submission_id: str, authorization: str | None = Header(None)):
        check(authorization)
        sub = sandbox.submissions.get(submission_id)
        if sub is None:
            raise HTTPException(404, "no such submission")
        return sandbox.ack_body(sub)

    @app.post("/_sandbox/config")
    async def configure(body: dict):
        if "ack_delay_s" in body:
            sandbox.ack_delay_s = float(body["ack_delay_s"])
        if "webhooks" in body:
            sandbox.webhooks = bool(body["webhooks"])
        return {"ack_delay_s": sandbox.ack_delay_s, "webhooks": sandbox.webhooks}

    @app.post("/_sandbox/outage")
    async def outage(body: dict):
        sandbox.outage_failures = int(body.get("failures", 1))
        return {"failures": sandbox.outage_failures}

    @app.get("/_sandbox/submissions")
    async def submissions():
        return list(sandbox.submissions.values())

    @app.get("/_sandbox/outbox")
    async def drain():
        return sandbox.outbox.drain()

    return app


def start(api_key: str, secret: str, webhook_url: str | None = None, port: int = 0,
          ack_delay_s: float | None = None) -> ThreadedServer:
    """`ack_delay_s` unset: EFILE_SANDBOX_ACK_DELAY_S, else 3 seconds (a few seconds in development)."""
    if ack_delay_s is None:
        ack_delay_s = float(os.environ.get("EFILE_SANDBOX_ACK_DELAY_S", "3"))
    sandbox = EfileSandbox(Outbox(secret, "X-Efiling-Signature", webhook_url), ack_delay_s)
    server = ThreadedServer(create_app(api_key, sandbox), port)
    server.sandbox = sandbox
    return server


def main() -> None:
    serve_from_command_line("E-file", __doc__.splitlines()[0], 8044, "/v1/webhooks/efiling", start,
                            lambda settings: (settings.efiling_api_key, settings.efiling_webhook_secret))


if __name__ == "__main__":
    main()
