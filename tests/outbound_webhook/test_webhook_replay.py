"""Replay: WebhookDeliveryWorkflow must keep replaying the histories of deliveries already running.

`histories/*.json` are recorded deliveries, one set per workflow code version (`_v1`: every attempt an activity;
`_v2`: the first attempt a local activity, patch `webhook-first-attempt-local`; `_v3`: the later attempts one
activity, patch `webhook-retries-in-activity`): one delivered at once, one stopped by a 410, and from v3 one
delivered at its second attempt, 5 s after the first. After a deliberate, versioned change (workflow.patched), record the new version's histories with
RECORD_WEBHOOK_HISTORIES=<label> (written to histories/<name>_<label>.json) and commit them next to the old ones.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from orchestration import ids
from orchestration.payload_codec import sealed_data_converter
from settings import Settings
from tests.outbound_webhook.conftest import deliveries, register, unique, until
from workflows.webhook_delivery import WebhookDeliveryWorkflow

HISTORIES = Path(__file__).parent / "histories"
REPLAYER = Replayer(workflows=[WebhookDeliveryWorkflow],
                    data_converter=sealed_data_converter(Settings().temporal_payload_keys, accept_unsealed=True))


async def test_recorded_histories_replay():
    files = sorted(HISTORIES.glob("*.json"))
    assert files, "no recorded histories"
    for path in files:
        await REPLAYER.replay_workflow(WorkflowHistory.from_json(path.stem, json.loads(path.read_text())))


async def _finished_delivery(tp, firm, receiver, kind: str) -> str:
    path = f"/{kind}/" + unique("replay")
    endpoint = await register(tp, firm, receiver.url + path, events=["invoice.paid"])
    receiver.receiver.trust(path, endpoint["secret"])
    await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)

    async def finished():
        rows = await deliveries(tp, endpoint["id"])
        return rows if rows and rows[0].status != "pending" else None
    [delivery] = await until(finished)
    handle = tp.temporal.get_workflow_handle(ids.webhook_delivery(delivery.id))
    await handle.result()
    return handle.id


async def test_live_delivery_histories_replay(tp, receiver, firm):
    """Replay live histories on today's code; with RECORD_WEBHOOK_HISTORIES=<label>, keep them in histories/."""
    for name, kind in (("delivered", "ok"), ("gone", "gone"), ("retried", "flaky/1")):
        workflow_id = await _finished_delivery(tp, firm, receiver, kind)
        history = await tp.temporal.get_workflow_handle(workflow_id).fetch_history()
        await REPLAYER.replay_workflow(history)
        if label := os.environ.get("RECORD_WEBHOOK_HISTORIES"):
            HISTORIES.mkdir(exist_ok=True)
            (HISTORIES / f"{name}_{label}.json").write_text(json.dumps(json.loads(history.to_json()), indent=1))
