"""SurePrep sandbox: binders, document uploads, "OCR" of the text layer, and the webhooks SurePrep sends.

    POST /v1/binders                          {client_reference, tax_year} → {binder_id, status}
    POST /v1/binders/{id}/documents           multipart file, external_reference, document_type → {document_id}
    GET  /_sandbox/outbox                     the signed webhook deliveries not yet drained (tests)
    GET  /_sandbox/binders                    everything received (tests check what was disclosed)

Bearer API key required; Idempotency-Key honoured (same key → same answer, nothing created twice). After an
upload the sandbox sends, in order: document.uploaded, binder.submitted, extraction.ready (each "Box N Label
$amount" line of the PDF's text as a field) and binder.processing_complete, signed with X-SurePrep-Signature.
`python -m sandboxes.sureprep --port 8041 --webhook-url http://127.0.0.1:8000/v1/webhooks/sureprep`.
"""

from __future__ import annotations

import io
import re
import uuid

from fastapi import FastAPI, File, Form, Header, HTTPException, UploadFile

from sandboxes.webhook_outbox import Outbox, ThreadedServer, serve_from_command_line

_BOX = re.compile(r"^Box (\w+) (.+?)(?:\s+\$([\d,]+\.\d{2}))?$")
_AMOUNT_LINE = re.compile(r"^\$([\d,]+\.\d{2})$")


def ocr_fields(content: bytes) -> list[dict]:
    from pypdf import PdfReader

    try:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(content)).pages[:4])
    except Exception:
        return []
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fields = []
    for index, line in enumerate(lines):
        match = _BOX.match(line)
        if not match:
            continue
        amount = match.group(3)
        if amount is None and index + 1 < len(lines) and (follow := _AMOUNT_LINE.match(lines[index + 1])):
            amount = follow.group(1)
        if amount is not None:
            fields.append({"box": match.group(1), "label": match.group(2), "value": amount.replace(",", ""),
                           "confidence": 0.99})
    return fields


def create_app(api_key: str, outbox: Outbox) -> FastAPI:
    app = FastAPI(title="SurePrep sandbox")
    binders: dict[str, dict] = {}
    replies: dict[str, dict] = {}

    def check(authorization: str | None) -> None:
        if authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")

    @app.post("/v1/binders", status_code=201)
    async def create_binder(body: dict, authorization: str | None = Header(None),
                            idempotency_key: str | None = Header(None)):
        check(authorization)
        if idempotency_key in replies:
            return replies[idempotency_key]
        binder_id = f"bnd_{uuid.uuid4().hex[:16]}"
        binders[binder_id] = {"binder_id": binder_id, "client_reference": body.get("client_reference"),
                              "tax_year": body.get("tax_year"), "documents": []}
        reply = {"binder_id": binder_id, "status": "created"}
        if idempotency_key:
            replies[idempotency_key] = reply
        return reply

    @app.post("/v1/binders/{binder_id}/documents", status_code=201)
    async def upload(binder_id: str, file: UploadFile = File(...), external_reference: str = Form(...),
                     document_type: str = Form(""), authorization: str | None = Header(None),
                     idempotency_key: str | None = Header(None)):
        check(authorization)
        if binder_id not in binders:
            raise HTTPException(404, "no such binder")
        if idempotency_key in replies:
            return replies[idempotency_key]
        content = await file.read()
        document_id = f"doc_{uuid.uuid4().hex[:16]}"
        binders[binder_id]["documents"].append({"document_id": document_id, "external_reference": external_reference,
                                                "filename": file.filename, "size": len(content)})
        reply = {"document_id": document_id, "status": "received"}
        if idempotency_key:
            replies[idempotency_key] = reply
        ref = {"binder_id": binder_id, "document_id": document_id, "external_reference": external_reference}
        outbox.emit("document.uploaded", ref)
        outbox.emit("binder.submitted", {"binder_id": binder_id})
        outbox.emit("extraction.ready", {**ref, "document_type": document_type or None,
                                         "fields": ocr_fields(content)})
        outbox.emit("binder.processing_complete", {"binder_id": binder_id})
        return reply

    @app.get("/_sandbox/outbox")
    async def drain():
        return outbox.drain()

    @app.get("/_sandbox/binders")
    async def all_binders():
        return list(binders.values())

    return app


def start(api_key: str, secret: str, webhook_url: str | None = None, port: int = 0) -> ThreadedServer:
    return ThreadedServer(create_app(api_key, Outbox(secret, "X-SurePrep-Signature", webhook_url)), port)


def main() -> None:
    serve_from_command_line("SurePrep", __doc__.splitlines()[0], 8041, "/v1/webhooks/sureprep", start,
                            lambda settings: (settings.sureprep_api_key, settings.sureprep_webhook_secret))


if __name__ == "__main__":
    main()
