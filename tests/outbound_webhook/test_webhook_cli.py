"""The operator's view (cli/webhooks.py): an endpoint's delivery log with its attempts, and a redelivery that
starts from the outbox without a Temporal connection of its own."""

from __future__ import annotations

import uuid

from cli import webhooks as cli
from tests.outbound_webhook.conftest import register, unique, until
from tests.support import deliver, outbox_entries


async def test_deliveries_and_redeliver(tp, receiver, firm):
    path = "/ok/" + unique("cli")
    endpoint = await register(tp, firm, receiver.url + path, events=["invoice.paid"])
    receiver.receiver.trust(path, endpoint["secret"])
    await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)
    await receiver.receiver.wait_for(path, 1)

    async def succeeded():
        log = await cli.deliveries(tp.state.sessionmaker, uuid.UUID(endpoint["id"]))
        return log if log and log[0]["status"] == "succeeded" else None
    [first] = await until(succeeded)
    assert first["event_type"] == "webhook.test" and first["attempts"][0]["status_code"] == 200

    again = await cli.redeliver(tp.state.outbox, uuid.UUID(first["id"]))
    [entry] = await outbox_entries(tp, again)
    assert await deliver(tp, entry.id)  # what the relay does
    got = await receiver.receiver.wait_for(path, 2)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"] and got[1].verified
    log = await cli.deliveries(tp.state.sessionmaker, uuid.UUID(endpoint["id"]))
    assert log[0]["id"] == str(again) and log[0]["redelivery_of"] == first["id"]
