"""Persona sandbox: inquiries, a hosted verification page, expiry, and webhooks signed as Persona signs them.

    POST /api/v1/inquiries               {data: {attributes: {inquiry-template-id, reference-id}}} → 201
                                         {data: {type: "inquiry", id: "inq_…", attributes: {status, reference-id,
                                         created-at}}}  (Bearer API key; Idempotency-Key honoured)
    GET  /verify?inquiry-id=inq_…        the hosted page: a plain HTML form where the tester picks the outcome
                                         (approved / declined) and the confidence
    POST /verify                         the form's answer: inquiry.completed (with the confidence) or
                                         inquiry.failed
    POST /_sandbox/config                {expire_after_s, secrets} (tests, development)
    GET  /_sandbox/outbox                the signed webhook deliveries not yet drained (tests)

A pending inquiry (created, or opened and not finished) expires after 24 hours (`expire_after_s`):
inquiry.expired. Webhooks go to the configured URL as Persona's event envelope
`{data: {type: "event", id, attributes: {name, created-at, payload: {data: <inquiry>}}}}`, signed
`Persona-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">` — one pair per configured secret, separated by
a space, as during a secret rotation. The confidence is the inquiry's `confidence-score` attribute (Persona
reports verification checks; the sandbox reduces them to the one number the issue's thresholds read).
`python -m sandboxes.persona --port 8045 --webhook-url http://127.0.0.1:8000/v1/webhooks/persona`.
"""

from __future__ import annotations

import asyncio
import html
import json
import threading
import time
import uuid
from datetime import datetime, timezone

from fastapi import FastAPI, Form, Header, HTTPException, Request
from fastapi.responses import HTMLResponse

from integrations.persona import persona_signature
from sandboxes.webhook_outbox import Outbox, ThreadedServer, serve_from_command_line


class PersonaOutbox(Outbox):
    """Persona's envelope and signature (one `t=…,v1=…` pair per secret) over the shared delivery."""

    def __init__(self, secrets: list[str], webhook_url: str | None):
        super().__init__(secrets[0], "Persona-Signature", webhook_url)
        self.secrets = secrets

    def emit(self, event_type: str, data: dict, created: int | None = None) -> dict:
        now = created or int(time.time())
        event = {"data": {"type": "event", "id": f"evt_{uuid.uuid4().hex}", "attributes": {
            "name": event_type, "created-at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
            "payload": {"data": data}}}}
        body = json.dumps(event, separators=(",", ":")).encode()
        header = " ".join(persona_signature(secret, body, now) for secret in self.secrets)
        delivery = {"event": event, "body": body.decode(),
                    "headers": {"Content-Type": "application/json", "Persona-Signature": header}}
        with self._lock:
            self._events.append(delivery)
        if self.webhook_url:
            asyncio.get_running_loop().create_task(self._deliver(delivery))
        return event


def create_app(api_key: str, outbox: PersonaOutbox, expire_after_s: float = 24 * 3600) -> FastAPI:
    app = FastAPI(title="Persona sandbox")
    inquiries: dict[str, dict] = {}
    by_key: dict[str, dict] = {}
    config = {"expire_after_s": expire_after_s}
    lock = threading.Lock()
    sweeper: list[asyncio.Task] = []

    def inquiry_json(inquiry: dict) -> dict:
        return {"type": "inquiry", "id": inquiry["id"], "attributes": {
            "status": inquiry["status"], "reference-id": inquiry["reference_id"],
            "inquiry-template-id": inquiry["template_id"], "created-at": inquiry["created_at"],
            "confidence-score": inquiry.get("confidence")}}

    def sweep() -> None:
        now = time.time()
        for inquiry in list(inquiries.values()):
            if inquiry["status"] in ("created", "pending") and now - inquiry["created"] >= config["expire_after_s"]:
                inquiry["status"] = "expired"
                outbox.emit("inquiry.expired", inquiry_json(inquiry))

    async def sweep_forever() -> None:
        while True:
            sweep()
            await asyncio.sleep(0.2)

    @app.middleware("http")
    async def start_sweeper(request: Request, call_next):
        if not sweeper:  # the expiry clock runs on the server's own loop, from its first request on
            sweeper.append(asyncio.get_running_loop().create_task(sweep_forever()))
        return await call_next(request)

    @app.post("/api/v1/inquiries", status_code=201)
    async def create(body: dict, authorization: str | None = Header(None), idempotency_key: str | None = Header(None)):
        if authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")
        attributes = (body.get("data") or {}).get("attributes") or {}
        if not attributes.get("inquiry-template-id"):
            raise HTTPException(400, "inquiry-template-id is required")
        with lock:
            if idempotency_key and idempotency_key in by_key:
                return {"data": inquiry_json(by_key[idempotency_key])}
            inquiry = {"id": f"inq_{uuid.uuid4().hex[:24]}", "status": "created",
                       "reference_id": attributes.get("reference-id"),
                       "template_id": attributes["inquiry-template-id"], "created": time.time(),
                       "created_at": datetime.now(timezone.utc).isoformat()}
            inquiries[inquiry["id"]] = inquiry
            if idempotency_key:
                by_key[idempotency_key] = inquiry
        return {"data": inquiry_json(inquiry)}

    @app.get("/verify", response_class=HTMLResponse)
    async def page(inquiry_id: str | None = None, request: Request = None):
        inquiry_id = inquiry_id or request.query_params.get("inquiry-id")
        inquiry = inquiries.get(inquiry_id or "")
        if inquiry is None:
            raise HTTPException(404, "no such inquiry")
        if inquiry["status"] == "created":
            inquiry["status"] = "pending"
        if inquiry["status"] != "pending":
            return HTMLResponse(f"<p>This inquiry is {html.escape(inquiry['status'])}.</p>")
        return HTMLResponse(f"""<!doctype html><title>Verify your identity (Persona sandbox)</title>
<h1>Verify your identity</h1><p>Sandbox: pick the outcome the government ID check gives.</p>
<form method="post" action="/verify">
<input type="hidden" name="inquiry_id" value="{html.escape(inquiry['id'])}">
<label>Outcome <select name="outcome"><option value="approved">approved</option>
<option value="declined">declined</option></select></label>
<label>Confidence <input name="confidence" type="number" min="0" max="1" step="0.01" value="0.95"></label>
<button type="submit">Submit</button></form>""")

    @app.post("/verify")
    async def answer(inquiry_id: str = Form(...), outcome: str = Form(...), confidence: float = Form(0.95),
                     accept: str | None = Header(None)):
        inquiry = inquiries.get(inquiry_id)
        if inquiry is None:
            raise HTTPException(404, "no such inquiry")
        if inquiry["status"] not in ("created", "pending"):
            raise HTTPException(409, f"the inquiry is {inquiry['status']}")
        if outcome not in ("approved", "declined") or not 0 <= confidence <= 1:
            raise HTTPException(400, "outcome approved|declined, confidence 0..1")
        inquiry["confidence"] = round(confidence, 3)
        inquiry["status"] = "completed" if outcome == "approved" else "failed"
        outbox.emit(f"inquiry.{inquiry['status']}", inquiry_json(inquiry))
        if accept and "application/json" in accept:
            return {"data": inquiry_json(inquiry)}
        return HTMLResponse("<p>Thank you. You can close this page.</p>")

    @app.post("/_sandbox/config")
    async def configure(body: dict):
        if "expire_after_s" in body:
            config["expire_after_s"] = float(body["expire_after_s"])
        if "secrets" in body:
            outbox.secrets = list(body["secrets"])
        sweep()
        return {"expire_after_s": config["expire_after_s"], "secrets": len(outbox.secrets)}

    @app.get("/_sandbox/outbox")
    async def drain():
        return outbox.drain()

    return app


def start(api_key: str, secret: str, webhook_url: str | None = None, port: int = 0,
          expire_after_s: float = 24 * 3600) -> ThreadedServer:
    return ThreadedServer(create_app(api_key, PersonaOutbox([secret], webhook_url), expire_after_s), port)


def main() -> None:
    serve_from_command_line("Persona", __doc__.splitlines()[0], 8045, "/v1/webhooks/persona", start,
                            lambda settings: (settings.persona_api_key, settings.persona_webhook_secret))


if __name__ == "__main__":
    main()
