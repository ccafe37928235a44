"""E-signature sandbox: a provider like Dropbox Sign or DocuSign, speaking our `google` contract
(integrations/esign.py), with a hosted signing page a person (or a script) completes.

API (`Authorization: Bearer <key>`, `Idempotency-Key` honoured: the same key gets the same answer):

    POST /v1/signature_requests              multipart: file (PDF), request (JSON: title, filename, signer_name,
                                             signer_email, message, metadata, expires_at) → {id, status, document_sha256}
                                             and mails the signing link to the signer
    POST /v1/signature_requests/{id}/remind  mails the link again (409 once the request is final)
    POST /v1/signature_requests/{id}/cancel  closes the link
    GET  /v1/signature_requests/{id}         status and evidence

The signing page (plain HTML forms, so a script completes it the way a browser does):

    GET  /sign/{token}            the ESIGN Act consumer disclosure first, if this signer has not consented yet;
                                  then the document and a form: typed name, Sign or Decline
    POST /sign/{token}/consent    agree=yes: records the consent (time, IP, user agent)
    GET  /sign/{token}/document   the PDF
    POST /sign/{token}            action=sign with typed_name, or action=decline with an optional reason

Evidence kept per request: the document's SHA-256 as received, every event (sent, viewed, document_viewed,
esign_consent, signed or declined, reminded) with its time, IP and user agent, and the typed name. A final event
is called back as `signature.completed` or `signature.declined` ({id, type, created, data}, signed with
X-Google-Signature: t=…,v1=HMAC-SHA256) to the webhook URL and kept for `GET /_sandbox/outbox` (tests).

`python -m sandboxes.esign --port 8043 --webhook-url http://127.0.0.1:8000/v1/webhooks/google`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import html
import json
import secrets
import smtplib
import threading
import uuid
from datetime import datetime, timezone
from email.message import EmailMessage

from fastapi import FastAPI, File, Form, Header, HTTPException, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse

from sandboxes.webhook_outbox import Outbox, ThreadedServer

SIGNATURE_HEADER = "X-Google-Signature"
# The ESIGN Act §7001(c)(1) disclosure a consumer reads before agreeing to electronic records; its version is
# kept with the consent, so the evidence says which words were shown.
ESIGN_DISCLOSURE_VERSION = "esign-consumer-disclosure-2026-1"
ESIGN_DISCLOSURE = [
    ("Paper copies", "You have the right to receive this document and any record we must give you on paper. "
                     "To ask for a paper copy, reply to the email that brought you here; there is no fee."),
    ("Withdrawing consent", "You may withdraw your consent to electronic records at any time by replying to that "
                            "email. Withdrawing ends electronic delivery from then on; it does not undo documents "
                            "you already signed, and the sender will send the rest on paper."),
    ("What this consent covers", "This consent covers this document and the records of this transaction only."),
    ("Updating your contact details", "To change the email address we use, reply to the email or contact the "
                                      "sender."),
    ("Hardware and software", "You need a device with a current web browser, an email account, and a program "
                              "that opens PDF files (every current browser does). You need to be able to keep "
                              "a copy, by saving or printing the PDF."),
]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


class Mailer:
    """Plain SMTP to the development mail capture (the real providers mail the signer themselves)."""

    def __init__(self, host: str, port: int, sender: str = "Signatures <sign@esign-sandbox.local>"):
        self.host, self.port, self.sender = host, port, sender

    def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.send_message(message)


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: dict[str, dict] = {}
        self.by_token: dict[str, str] = {}
        self.replies: dict[str, dict] = {}
        self.esign_consents: dict[str, dict] = {}  # signer email (lower case) → the consent's evidence


def create_app(api_key: str, outbox: Outbox, mailer: Mailer) -> FastAPI:
    app = FastAPI(title="E-signature sandbox")
    store = Store()

    def check(authorization: str | None) -> None:
        if authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")

    def event(record: dict, name: str, request: Request | None = None, **extra) -> dict:
        entry = {"event": name, "at": _iso(_now()), **extra}
        if request is not None:
            entry.update(ip_address=_client_ip(request), user_agent=request.headers.get("user-agent", ""))
        record["events"].append(entry)
        return entry

    def mail_link(record: dict, base_url: str, reminder: bool) -> None:
        link = f"{base_url.rstrip('/')}/sign/{record['token']}"
        subject = ("Reminder: " if reminder else "") + f"Please sign: {record['title']}"
        mailer.send(record["signer_email"], subject,
                    f"Dear {record['signer_name']},\n\n{record['message']}\n\nReview and sign: {link}\n\n"
                    "This link is yours alone; do not forward it.\n")

    def public(record: dict) -> dict:
        return {key: record[key] for key in ("id", "status", "title", "signer_name", "signer_email",
                                             "document_sha256", "metadata", "events", "typed_name")}

    def is_expired(record: dict) -> bool:
        return bool(record["expires_at"]) and datetime.fromisoformat(record["expires_at"]) <= _now()

    @app.post("/v1/signature_requests", status_code=201)
    async def create(request: Request, file: UploadFile = File(...), body: str = Form(..., alias="request"),
                     authorization: str | None = Header(None), idempotency_key: str | None = Header(None)):
        check(authorization)
        if idempotency_key and idempotency_key in store.replies:
            return store.replies[idempotency_key]
        try:
            spec = json.loads(body)
            content = await file.read()
            if not content.startswith(b"%PDF-"):
                raise ValueError("the file is not a PDF")
            for key in ("title", "signer_name", "signer_email"):
                if not isinstance(spec.get(key), str) or not spec[key].strip():
                    raise ValueError(f"{key} is required")
        except (ValueError, json.JSONDecodeError) as exc:
            raise HTTPException(400, str(exc)) from None
        record = {"id": f"sig_{uuid.uuid4().hex[:20]}", "token": secrets.token_urlsafe(24), "status": "sent",
                  "title": spec["title"], "filename": spec.get("filename") or "document.pdf",
                  "signer_name": spec["signer_name"], "signer_email": spec["signer_email"],
                  "message": spec.get("message") or "", "metadata": spec.get("metadata") or {},
                  "expires_at": spec.get("expires_at"), "content": content,
                  "document_sha256": hashlib.sha256(content).hexdigest(), "events": [], "typed_name": None}
        event(record, "sent")
        await asyncio.to_thread(mail_link, record, str(request.base_url), False)
        with store.lock:
            store.requests[record["id"]] = record
            store.by_token[record["token"]] = record["id"]
        reply = {"id": record["id"], "status": record["status"], "document_sha256": record["document_sha256"]}
        if idempotency_key:
            store.replies[idempotency_key] = reply
        return reply

    def by_id(request_id: str) -> dict:
        record = store.requests.get(request_id)
        if record is None:
            raise HTTPException(404, "no such signature request")
        return record

    @app.get("/v1/signature_requests/{request_id}")
    async def get(request_id: str, authorization: str | None = Header(None)):
        check(authorization)
        return public(by_id(request_id))

    @app.post("/v1/signature_requests/{request_id}/remind")
    async def remind(request_id: str, request: Request, authorization: str | None = Header(None),
                     idempotency_key: str | None = Header(None)):
        check(authorization)
        record = by_id(request_id)
        if idempotency_key and idempotency_key in store.replies:
            return store.replies[idempotency_key]
        if record["status"] != "sent" or is_expired(record):
            raise HTTPException(409, f"the request is {record['status']}")
        event(record, "reminded")
        await asyncio.to_thread(mail_link, record, str(request.base_url), True)
        reply = {"id": record["id"], "status": record["status"]}
        if idempotency_key:
            store.replies[idempotency_key] = reply
        return reply

    @app.post("/v1/signature_requests/{request_id}/cancel")
    async def cancel(request_id: str, authorization: str | None = Header(None)):
        check(authorization)
        record = by_id(request_id)
        if record["status"] == "sent":
            record["status"] = "canceled"
            event(record, "canceled")
        return {"id": record["id"], "status": record["status"]}

    def by_token(token: str) -> dict:
        request_id = store.by_token.get(token)
        if request_id is None:
            raise HTTPException(404, "this signing link is not valid")
        return store.requests[request_id]

    def closed_page(record: dict) -> HTMLResponse | None:
        if record["status"] == "sent" and is_expired(record):
            return _page("Link expired", "<p>This signing link has expired. Ask the sender for a new one.</p>", 410)
        if record["status"] != "sent":
            return _page("Nothing to sign", f"<p>This request is {html.escape(record['status'])}.</p>", 410)
        return None

    @app.get("/sign/{token}", response_class=HTMLResponse)
    async def signing_page(token: str, request: Request):
        record = by_token(token)
        if (closed := closed_page(record)) is not None:
            return closed
        if not any(e["event"] == "viewed" for e in record["events"]):
            event(record, "viewed", request)
        title = html.escape(record["title"])
        if record["signer_email"].lower() not in store.esign_consents:
            items = "".join(f"<h3>{html.escape(h)}</h3><p>{html.escape(t)}</p>" for h, t in ESIGN_DISCLOSURE)
            return _page("Consent to electronic records", f"""
<p>Before you sign <b>{title}</b> electronically, please read how electronic records work.</p>{items}
<p>Check that you can open the document: <a href="/sign/{token}/document" target="_blank">{title} (PDF)</a>.</p>
<form method="post" action="/sign/{token}/consent">
  <label><input type="checkbox" name="agree" value="yes" required> I have read this disclosure, I can open the
  PDF above, and I agree to use electronic records and signatures.</label>
  <p><button type="submit" id="agree">Continue</button></p>
</form>""")
        return _page(f"Sign: {title}", f"""
<p>Please review the document before signing.</p>
<iframe src="/sign/{token}/document" title="{title}" style="width:100%;height:60vh;border:1px solid #999"></iframe>
<p><a href="/sign/{token}/document" target="_blank">Open the PDF</a></p>
<form method="post" action="/sign/{token}">
  <p><label>Type your full name to sign: <input type="text" name="typed_name" id="typed_name"
     autocomplete="name" maxlength="200"></label></p>
  <p><label>Reason, if you decline: <input type="text" name="decline_reason" maxlength="500"></label></p>
  <p><button type="submit" name="action" value="sign" id="sign">Sign</button>
     <button type="submit" name="action" value="decline" id="decline">Decline</button></p>
</form>""")

    @app.post("/sign/{token}/consent")
    async def give_consent(token: str, request: Request, agree: str = Form("")):
        record = by_token(token)
        if (closed := closed_page(record)) is not None:
            return closed
        if agree != "yes":
            return _page("Consent needed", "<p>Tick the box to agree, or close this page.</p>", 400)
        entry = event(record, "esign_consent", request, disclosure_version=ESIGN_DISCLOSURE_VERSION)
        store.esign_consents[record["signer_email"].lower()] = entry
        return RedirectResponse(f"/sign/{token}", status_code=303)

    @app.get("/sign/{token}/document")
    async def document(token: str, request: Request):
        record = by_token(token)
        event(record, "document_viewed", request)
        return Response(record["content"], media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{record["filename"]}"'})

    @app.post("/sign/{token}")
    async def complete(token: str, request: Request, action: str = Form(...), typed_name: str = Form(""),
                       decline_reason: str = Form("")):
        record = by_token(token)
        if (closed := closed_page(record)) is not None:
            return closed
        consent = store.esign_consents.get(record["signer_email"].lower())
        if consent is None:
            return RedirectResponse(f"/sign/{token}", status_code=303)
        if action == "sign":
            name = " ".join(typed_name.split())
            if not name:
                return _page("Name needed", "<p>Type your full name to sign.</p>", 400)
            record["typed_name"] = name
            record["status"] = "completed"
            signed = event(record, "signed", request, typed_name=name)
            outbox.emit("signature.completed", {
                "signature_request_id": record["id"], "metadata": record["metadata"],
                "evidence": _evidence(record, consent, signed)})
            return _page("Signed", f"<p>Thank you, {html.escape(name)}. You signed {html.escape(record['title'])}."
                                   " The sender will send you the signed copy.</p>")
        if action == "decline":
            record["status"] = "declined"
            declined = event(record, "declined", request, reason=decline_reason[:500] or None)
            outbox.emit("signature.declined", {
                "signature_request_id": record["id"], "metadata": record["metadata"],
                "reason": decline_reason[:500] or None, "evidence": _evidence(record, consent, declined)})
            return _page("Declined", "<p>You declined to sign. The sender has been told.</p>")
        return _page("Unknown action", "<p>Choose Sign or Decline.</p>", 400)

    @app.get("/_sandbox/outbox")
    async def drain():
        return outbox.drain()

    return app


def _evidence(record: dict, consent: dict, final: dict) -> dict:
    """What a court or the IRS asks for: who, from where, with what, when, on which bytes."""
    return {
        "signer": {"name": record["signer_name"], "email": record["signer_email"]},
        "authentication": {"method": "email_link", "login_id": record["signer_email"]},
        "typed_name": record["typed_name"],
        "ip_address": final["ip_address"],
        "user_agent": final["user_agent"],
        "document_sha256": record["document_sha256"],
        "esign_consent": consent,
        "events": list(record["events"]),
        "completed_at": final["at"],
    }


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.5 sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>""", status_code=status)


def start(api_key: str, secret: str, webhook_url: str | None, smtp_host: str, smtp_port: int,
          port: int = 0) -> ThreadedServer:
    return ThreadedServer(create_app(api_key, Outbox(secret, SIGNATURE_HEADER, webhook_url),
                                     Mailer(smtp_host, smtp_port)), port)


def main() -> None:
    from settings import get_settings

    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8043)
    parser.add_argument("--webhook-url", default=f"{settings.api_base_url}/v1/webhooks/google")
    args = parser.parse_args()
    server = start(settings.google_api_key, settings.google_webhook_secret, args.webhook_url, settings.smtp_host,
                   settings.smtp_port, args.port)
    server.serve_until_signalled(f"E-signature sandbox on {server.url}, webhooks to {args.webhook_url}")


if __name__ == "__main__":
    main()
