"""POST /v1/webhooks/efiling: verified before parsing, recorded once in the webhook ledger; a forged, stale or
replayed delivery, and an acknowledgement for an unknown transmission."""

from __future__ import annotations

import json
import time
import uuid

from sqlalchemy import func, select

from domain.webhook.models import InboundWebhook
from integrations.webhook_hmac import hmac_header
from tests.efile.conftest import ready_return, transmit
from tests.tax_return.conftest import assert_problem, wait_for_status


def _event(data: dict, event_type: str = "transmission.accepted") -> bytes:
    return json.dumps({"id": f"evt_{uuid.uuid4().hex}", "type": event_type, "created": int(time.time()),
                       "data": data}).encode()


async def _post(tp, body: bytes, signature: str):
    return await tp.http.post("/v1/webhooks/efiling", content=body,
                              headers={"Content-Type": "application/json", "X-Efiling-Signature": signature})


async def _recorded(tp, body: bytes) -> int:
    event_id = json.loads(body)["id"]
    async with tp.state.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(InboundWebhook).where(
            InboundWebhook.source == "efiling", InboundWebhook.event_id == event_id))).scalar_one()


async def test_forged_and_stale_deliveries_are_refused_and_not_recorded(tp):
    secret = tp.settings.efiling_webhook_secret
    body = _event({"submission_id": "0" * 20, "status": "accepted"})
    assert_problem(await _post(tp, body, hmac_header("not-the-secret", body)), 401)
    assert_problem(await _post(tp, body, hmac_header(secret, body, int(time.time()) - 3600)), 401)
    assert_problem(await _post(tp, body, ""), 401)
    assert await _recorded(tp, body) == 0


async def test_unknown_transmission_and_malformed_acknowledgements(tp):
    secret = tp.settings.efiling_webhook_secret
    unknown = _event({"submission_id": "9" * 20, "status": "accepted", "confirmation_number": "IRS1"})
    response = await _post(tp, unknown, hmac_header(secret, unknown))
    assert response.status_code == 200 and response.json()["outcome"] == "ignored_unknown_transmission"
    malformed = _event({"submission_id": "short", "status": "accepted"})
    response = await _post(tp, malformed, hmac_header(secret, malformed))
    assert response.status_code == 200 and response.json()["outcome"] == "rejected"
    assert await _recorded(tp, unknown) == 1 and await _recorded(tp, malformed) == 1


async def test_a_replayed_acknowledgement_is_recorded_once(tp, firm, transmitter):
    _, rid = await ready_return(tp, firm, "Replayed")
    [sent] = (await transmit(tp, firm, rid))["data"]["transmissions"]
    await wait_for_status(tp, firm.headers["admin"], rid, "complete", timeout_s=30)
    [(delivery, status, answer)] = [d for d in transmitter.delivered
                                    if d[0]["event"]["data"]["submission_id"] == sent["submission_id"]
                                    and d[0]["event"]["type"] == "transmission.accepted"]
    assert status == 200 and answer["outcome"] in ("recorded", "already_recorded")
    again = await tp.http.post("/v1/webhooks/efiling", content=delivery["body"].encode(), headers=delivery["headers"])
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert await _recorded(tp, delivery["body"].encode()) == 1
