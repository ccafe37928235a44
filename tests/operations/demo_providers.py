"""What `make run` gives the demo seed and the suite's app does not by itself: the payments sandbox (the billing
tests' port; it may be up already) and the e-signature sandbox's callbacks, which under `make run` it posts to the
API and here are handed to the in-process app as they come (tests/esign/conftest.deliver_signature_events)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlparse

from devstack.ports import accepts_connections
from sandboxes.payments import PaymentsSandbox, serve
from tests.esign.conftest import deliver_signature_events


@contextlib.asynccontextmanager
async def demo_providers(tp):
    port = urlparse(tp.settings.stripe_api_base).port
    sandbox = None
    if not accepts_connections(port):
        async def deliver(payload: bytes, headers: dict[str, str]) -> int:
            return (await tp.http.post("/v1/webhooks/stripe", content=payload, headers=headers)).status_code
        sandbox = await serve(PaymentsSandbox(webhook_secrets=[tp.settings.stripe_webhook_secret], deliver=deliver),
                              port)

    async def relay_signature_callbacks():
        while True:
            await deliver_signature_events(tp)
            await asyncio.sleep(0.2)

    relay = asyncio.create_task(relay_signature_callbacks())
    try:
        yield
    finally:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
        await deliver_signature_events(tp)  # none left for the e-signature tests that drain the same outbox
        if sandbox is not None:
            await sandbox.stop()
