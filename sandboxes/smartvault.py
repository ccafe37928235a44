"""SmartVault sandbox: a client's vault that the firm is notified about.

    POST /v1/accounts/{account}/documents     multipart file, folder → stores it, sends document.uploaded
    POST /v1/accounts/{account}/folders       {name} → sends folder.created
    GET  /v1/documents/{id}/content           the bytes (Bearer API key)
    GET  /_sandbox/outbox                     the signed webhook deliveries not yet drained (tests)

Webhooks are signed with X-SmartVault-Signature. `python -m sandboxes.smartvault --port 8042 --webhook-url …`.
"""

from __future__ import annotations

import uuid

from fastapi import FastAPI, File, Form, Header, HTTPException, Response, UploadFile

from sandboxes.webhook_outbox import Outbox, ThreadedServer, serve_from_command_line


def create_app(api_key: str, outbox: Outbox) -> FastAPI:
    app = FastAPI(title="SmartVault sandbox")
    documents: dict[str, dict] = {}

    @app.post("/v1/accounts/{account_id}/documents", status_code=201)
    async def put_document(account_id: str, file: UploadFile = File(...), folder: str = Form("Client Uploads")):
        content = await file.read()
        document_id = f"sv_{uuid.uuid4().hex[:16]}"
        documents[document_id] = {"content": content, "name": file.filename, "type": file.content_type}
        outbox.emit("document.uploaded", {"account_id": account_id, "document_id": document_id,
                                          "name": file.filename, "size": len(content), "folder": folder})
        return {"document_id": document_id}

    @app.post("/v1/accounts/{account_id}/folders", status_code=201)
    async def create_folder(account_id: str, body: dict):
        outbox.emit("folder.created", {"account_id": account_id, "name": body.get("name")})
        return {"name": body.get("name")}

    @app.get("/v1/documents/{document_id}/content")
    async def content(document_id: str, authorization: str | None = Header(None)):
        if authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")
        if document_id not in documents:
            raise HTTPException(404, "no such document")
        return Response(documents[document_id]["content"], media_type="application/octet-stream")

    @app.get("/_sandbox/outbox")
    async def drain():
        return outbox.drain()

    return app


def start(api_key: str, secret: str, webhook_url: str | None = None, port: int = 0) -> ThreadedServer:
    return ThreadedServer(create_app(api_key, Outbox(secret, "X-SmartVault-Signature", webhook_url)), port)


def main() -> None:
    serve_from_command_line("SmartVault", __doc__.splitlines()[0], 8042, "/v1/webhooks/smartvault", start,
                            lambda settings: (settings.smartvault_api_key, settings.smartvault_webhook_secret))


if __name__ == "__main__":
    main()
