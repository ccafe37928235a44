"""SMS gateway sandbox: a capture, like the mail capture — every text (or voice call reading a text) it is asked
to send is kept and listed, nothing leaves the machine.

    POST /v1/messages        {to, body, channel: sms|voice} → {id, status: "queued"}  (Bearer API key;
                             Idempotency-Key honoured: the same key is the same message, sent once)
    GET  /messages?to=<number>   [{id, to, body, channel, received_at}], oldest first

`python -m sandboxes.sms_gateway --port 8046`.
"""

from __future__ import annotations

import argparse
import threading
import uuid
from datetime import datetime, timezone

from fastapi import FastAPI, Header, HTTPException

from sandboxes.webhook_outbox import ThreadedServer


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def create_app(api_key: str) -> FastAPI:
    app = FastAPI(title="SMS gateway sandbox")
    messages: list[dict] = []
    by_key: dict[str, dict] = {}
    lock = threading.Lock()

    @app.post("/v1/messages", status_code=201)
    async def send(body: dict, authorization: str | None = Header(None), idempotency_key: str | None = Header(None)):
        if authorization != f"Bearer {api_key}":
            raise HTTPException(401, "invalid API key")
        to, text, channel = body.get("to"), body.get("body"), body.get("channel", "sms")
        if not isinstance(to, str) or not 8 <= len(_digits(to)) <= 15 or not isinstance(text, str) or not text:
            raise HTTPException(400, "to (a phone number) and body are required")
        if channel not in ("sms", "voice"):
            raise HTTPException(400, "channel is sms or voice")
        with lock:
            if idempotency_key and idempotency_key in by_key:
                return by_key[idempotency_key]
            message = {"id": f"SM{uuid.uuid4().hex}", "to": to, "body": text, "channel": channel,
                       "received_at": datetime.now(timezone.utc).isoformat()}
            messages.append(message)
            answer = {"id": message["id"], "status": "queued"}
            if idempotency_key:
                by_key[idempotency_key] = answer
        return answer

    @app.get("/messages")
    async def listed(to: str | None = None):
        with lock:
            return [m for m in messages if to is None or _digits(m["to"]) == _digits(to)]

    return app


def start(api_key: str, port: int = 0) -> ThreadedServer:
    return ThreadedServer(create_app(api_key), port)


def main() -> None:
    from settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8046)
    args = parser.parse_args()
    server = start(get_settings().sms_gateway_api_key, args.port)
    server.serve_until_signalled(f"SMS gateway sandbox on {server.url} (texts at /messages?to=…)")


if __name__ == "__main__":
    main()
