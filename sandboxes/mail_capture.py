"""Development mail capture: an SMTP server that keeps every message, and an HTTP API to read them.

The app sends real SMTP to it (SMTP_HOST/SMTP_PORT); developers and tests read what was sent:

    GET    /messages?to=<address>   [{"id", "from", "to": [...], "subject", "text", "attachments", "received_at"}], oldest first
    GET    /messages/{id}           one message, plus its "html" part if any
    DELETE /messages                forget everything

Messages are kept in memory and as .eml files (envelope in X-MailFrom / X-RcptTo headers), reloaded on start,
so they survive a restart of `make run`. SMTP and HTTP share one event loop on one background thread, so a
test can run the capture in-process; `python -m sandboxes.mail_capture` runs it as a process.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import logging
import signal
import socket
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import uvicorn
from aiosmtpd.smtp import SMTP
from fastapi import FastAPI, HTTPException

from sandboxes.webhook_outbox import tcp_socket

HOST = "127.0.0.1"
log = logging.getLogger(__name__)
_STAMP = "%Y%m%dT%H%M%S.%fZ"  # file names sort in arrival order


class MailStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._messages = [_parse(path) for path in sorted(directory.glob("*.eml"))]

    def add(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> dict:
        received_at = datetime.now(timezone.utc)
        envelope = f"X-MailFrom: {mail_from}\r\nX-RcptTo: {', '.join(rcpt_tos)}\r\n".encode()
        path = self.directory / f"{received_at.strftime(_STAMP)}-{uuid.uuid4().hex[:12]}.eml"
        path.write_bytes(envelope + content)
        message = _parse(path)
        with self._lock:
            self._messages.append(message)
        return message

    def list(self, to: str | None = None) -> list[dict]:
        with self._lock:
            messages = list(self._messages)
        if to:
            messages = [m for m in messages if to.lower() in (r.lower() for r in m["to"])]
        return [_summary(m) for m in messages]

    def get(self, message_id: str) -> dict | None:
        with self._lock:
            return next((m for m in self._messages if m["id"] == message_id), None)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            for path in self.directory.glob("*.eml"):
                path.unlink(missing_ok=True)


def _parse(path: Path) -> dict:
    msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    stamp, _, _ = path.stem.rpartition("-")
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    return {
        "id": path.stem,
        "from": str(msg.get("From") or msg.get("X-MailFrom", "")),
        "to": [r.strip() for r in str(msg.get("X-RcptTo", "")).split(",") if r.strip()],
        "subject": str(msg.get("Subject", "")),
        "text": plain.get_content().replace("\r\n", "\n") if plain is not None else "",  # SMTP sends CRLF
        "html": html.get_content() if html is not None else None,
        # Attached files (a calendar invitation): name, type and, for text, the content.
        "attachments": [{"filename": part.get_filename(), "content_type": part.get_content_type(),
                         "content": part.get_content() if part.get_content_maintype() == "text" else None}
                        for part in msg.iter_attachments()],
        "received_at": datetime.strptime(stamp, _STAMP).replace(tzinfo=timezone.utc).isoformat(),
    }


def _summary(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "html"}


class _Handler:
    """aiosmtpd handler: accept every recipient, store the message."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server, session, envelope) -> str:
        self.store.add(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        return "250 Message accepted for delivery"


def create_app(store: MailStore) -> FastAPI:
    app = FastAPI(title="Mail capture (development)")

    @app.get("/messages")
    def list_messages(to: str | None = None) -> list[dict]:
        return store.list(to)

    @app.get("/messages/{message_id}")
    def get_message(message_id: str) -> dict:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(404, "no such message")
        return message

    @app.delete("/messages", status_code=204)
    def clear_messages() -> None:
        store.clear()

    return app


def _listen(port: int) -> socket.socket:
    """Bind here, in the caller's thread, so a taken port fails start_mail_capture with a clear error."""
    sock = tcp_socket()
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"mail capture cannot listen on {HOST}:{port}: {exc}") from exc
    sock.listen(100)
    return sock


class MailCaptureHandle:
    def __init__(self, data_dir: Path, smtp_port: int, http_port: int) -> None:
        self.smtp_port = smtp_port
        self.http_url = f"http://{HOST}:{http_port}"
        self.store = MailStore(data_dir)
        smtp_sock = _listen(smtp_port)
        try:
            http_sock = _listen(http_port)
        except OSError:
            smtp_sock.close()
            raise
        config = uvicorn.Config(create_app(self.store), log_level="warning", lifespan="off")
        self._http = uvicorn.Server(config)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(smtp_sock, http_sock), name="mail-capture",
                                        daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def _run(self, smtp_sock: socket.socket, http_sock: socket.socket) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve(smtp_sock, http_sock))
        except BaseException as exc:
            if self._ready.is_set():  # it was running: nobody waits for the error, so log it
                log.exception("mail capture stopped with an error")
            self._error = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _serve(self, smtp_sock: socket.socket, http_sock: socket.socket) -> None:
        handler = _Handler(self.store)
        # A fixed hostname: the default, socket.getfqdn(), can stall on DNS for every connection.
        smtp = await self._loop.create_server(
            lambda: SMTP(handler, hostname="mail-capture.local", loop=self._loop), sock=smtp_sock)
        http = asyncio.create_task(self._http.serve(sockets=[http_sock]))
        while not self._http.started and not http.done():
            await asyncio.sleep(0.01)
        if not self._http.started:
            smtp.close()
            await http  # surfaces its error, if it raised one
            raise RuntimeError("mail capture: the HTTP server did not start")
        self._ready.set()
        try:
            await http
        finally:
            smtp.close()
            await smtp.wait_closed()

    def stop(self) -> None:
        """Safe to call twice."""
        self._http.should_exit = True
        self._thread.join(timeout=10)


def start_mail_capture(data_dir: Path, smtp_port: int, http_port: int) -> MailCaptureHandle:
    return MailCaptureHandle(data_dir, smtp_port, http_port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="where the .eml files are kept")
    parser.add_argument("--smtp-port", type=int, default=8025)
    parser.add_argument("--http-port", type=int, default=8026)
    args = parser.parse_args()
    handle = start_mail_capture(args.dir, args.smtp_port, args.http_port)
    print(f"mail capture: SMTP {HOST}:{handle.smtp_port}, read API {handle.http_url}/messages", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    handle.stop()


if __name__ == "__main__":
    main()
