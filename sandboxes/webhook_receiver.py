"""A webhook receiver, as a firm's engineer would run one: it verifies every delivery with the `standardwebhooks`
library (the third party's verifier, not ours) and keeps what it received. Each path behaves as its name says,
so one receiver stands in for healthy, slow, failing and vanished endpoints:

    /ok/<name>            200
    /slow/<seconds>/<n>   200 after the delay
    /fail/<name>          500, always
    /flaky/<n>/<name>     500 to the first n requests, then 200
    /gone/<name>          410 Gone
    /limited/<s>/<name>   429 with Retry-After: <s>
    /redirect/<name>      302 to /ok/<name>-redirected (which must never be reached: we follow no redirect)

Secrets: `POST /_receiver/secrets {"path": "/ok/mine", "secret": "whsec_…"}` (or `Receiver.trust` in process);
a path may have several (a rotation). `GET /_receiver/deliveries?path=…` lists what arrived, with `verified`.
`python -m sandboxes.webhook_receiver --port 8048` is the one `make run` starts (docs/webhooks-outbound.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

HOST = "127.0.0.1"
log = logging.getLogger("webhook_receiver")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    verified: bool
    error: str | None
    at: float  # time.time() when it arrived

    @property
    def event(self) -> dict:
        return json.loads(self.body)

    def as_dict(self) -> dict:
        return {"path": self.path, "headers": self.headers, "body": self.body, "verified": self.verified,
                "error": self.error, "at": self.at}


@dataclass
class Receiver:
    secrets: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    received: list[Received] = field(default_factory=list)

    def trust(self, path: str, secret: str) -> None:
        self.secrets[path].append(secret)

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def wait_for(self, path: str, count: int = 1, timeout_s: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(self.at(path))} of {count} deliveries to {path} within {timeout_s} s")

    def verify(self, path: str, body: str, headers: dict[str, str]) -> str | None:
        """None when one of the path's secrets verifies the delivery; else why not."""
        if not self.secrets.get(path):
            return "no secret registered for this path"
        errors = []
        for secret in self.secrets[path]:
            try:
                Webhook(secret).verify(body, headers)
                return None
            except WebhookVerificationError as exc:
                errors.append(str(exc))
        return "; ".join(errors)


def create_app(receiver: Receiver) -> Starlette:
    async def deliver(request: Request) -> Response:
        path = request.url.path
        body = (await request.body()).decode()
        headers = {k.lower(): v for k, v in request.headers.items()}
        error = receiver.verify(path, body, headers)
        receiver.received.append(Received(path, headers, body, error is None, error, time.time()))
        log.info("%s %s %s", path, headers.get("webhook-id"), "verified" if error is None else f"NOT verified: {error}")
        parts = path.strip("/").split("/")
        kind = parts[0]
        if kind == "slow":
            await asyncio.sleep(float(parts[1]))
        if kind == "fail" or (kind == "flaky" and len(receiver.at(path)) <= int(parts[1])):
            return Response("broken", status_code=500)
        if kind == "gone":
            return Response(status_code=410)
        if kind == "limited":
            return Response(status_code=429, headers={"Retry-After": parts[1]})
        if kind == "redirect":
            return Response(status_code=302, headers={"Location": f"/ok/{parts[-1]}-redirected"})
        return Response(status_code=200 if error is None else 400)

    async def add_secret(request: Request) -> Response:
        body = await request.json()
        receiver.trust(body["path"], body["secret"])
        return JSONResponse({"path": body["path"], "secrets": len(receiver.secrets[body["path"]])})

    async def deliveries(request: Request) -> Response:
        path = request.query_params.get("path")
        return JSONResponse([r.as_dict() for r in receiver.received if path is None or r.path == path])

    return Starlette(routes=[
        Route("/_receiver/secrets", add_secret, methods=["POST"]),
        Route("/_receiver/deliveries", deliveries, methods=["GET"]),
        Route("/{rest:path}", deliver, methods=["POST"]),
    ])


@dataclass
class RunningReceiver:
    receiver: Receiver
    server: uvicorn.Server
    task: asyncio.Task
    url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(receiver: Receiver, port: int, host: str = HOST, certfile: str | None = None,
                keyfile: str | None = None) -> RunningReceiver:
    """Run the receiver in the current event loop (tests, the benchmark): returns once it accepts connections.
    With `certfile` and `keyfile` it answers https."""
    server = uvicorn.Server(uvicorn.Config(create_app(receiver), host=host, port=port, log_level="warning",
                                           lifespan="off", access_log=False, ssl_certfile=certfile,
                                           ssl_keyfile=keyfile))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("webhook receiver did not start")
        await asyncio.sleep(0.01)
    return RunningReceiver(receiver, server, task, f"{'https' if certfile else 'http'}://{host}:{port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8048)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    print(f"webhook receiver on http://{HOST}:{args.port}/ok/<name> (register its secret at "
          f"POST /_receiver/secrets, read GET /_receiver/deliveries)", flush=True)
    uvicorn.run(create_app(Receiver()), host=HOST, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
