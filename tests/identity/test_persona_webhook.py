"""POST /v1/webhooks/persona: Persona-Signature verified over the raw body before parsing (forged and stale
refused, nothing recorded), two signatures during a secret rotation, a replay recorded once, an unknown
inquiry acknowledged."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

from sqlalchemy import func, select

from domain.webhook.models import InboundWebhook
from integrations.persona import persona_signature, persona_signature_valid
from tests.tax_return.conftest import assert_problem


def _event(name: str = "inquiry.completed", inquiry_id: str | None = None) -> bytes:
    return json.dumps({"data": {"type": "event", "id": f"evt_{uuid.uuid4().hex}", "attributes": {
        "name": name, "created-at": datetime.now(timezone.utc).isoformat(),
        "payload": {"data": {"type": "inquiry", "id": inquiry_id or f"inq_{uuid.uuid4().hex[:24]}",
                             "attributes": {"status": "completed", "confidence-score": 0.95}}}}}}).encode()


async def _post(tp, body: bytes, signature: str):
    return await tp.http.post("/v1/webhooks/persona", content=body,
                              headers={"Content-Type": "application/json", "Persona-Signature": signature})


async def _recorded(tp, body: bytes) -> int:
    async with tp.state.sessionmaker() as session:
        return (await session.execute(select(func.count()).select_from(InboundWebhook).where(
            InboundWebhook.source == "persona", InboundWebhook.event_id == json.loads(body)["data"]["id"]))
        ).scalar_one()


def test_the_signature_scheme():
    body, now = b'{"a":1}', int(time.time())
    one = persona_signature("current", body, now)
    assert persona_signature_valid(["current"], one, body)
    # During a rotation the sender signs with both secrets; either matches either of ours.
    both = f"{persona_signature('old', body, now)} {persona_signature('current', body, now)}"
    assert persona_signature_valid(["current"], both, body) and persona_signature_valid(["old"], both, body)
    assert not persona_signature_valid(["other"], both, body)
    assert not persona_signature_valid(["current"], one, body + b" ")
    assert not persona_signature_valid(["current"], persona_signature("current", body, now - 600), body)
    assert not persona_signature_valid(["current"], "t=abc,v1=zz", body)


async def test_forged_stale_and_replayed_deliveries(tp):
    secret = tp.settings.persona_webhook_secret
    body = _event()
    assert_problem(await _post(tp, body, persona_signature("forged", body)), 401)
    assert_problem(await _post(tp, body, persona_signature(secret, body, int(time.time()) - 3600)), 401)
    assert await _recorded(tp, body) == 0
    rotated = f"{persona_signature('the-old-secret', body)} {persona_signature(secret, body)}"
    first = await _post(tp, body, rotated)
    assert first.status_code == 200 and first.json()["outcome"] == "ignored_unknown_inquiry", first.text
    again = await _post(tp, body, persona_signature(secret, body))
    assert again.status_code == 200 and again.json()["outcome"] == "duplicate"
    assert await _recorded(tp, body) == 1
    started = _event("inquiry.started")
    answer = await _post(tp, started, persona_signature(secret, started))
    assert answer.json()["outcome"] == "ignored"
    assert_problem(await _post(tp, b'{"data": 1}', persona_signature(secret, b'{"data": 1}')), 400)


async def test_signed_bodies_of_another_shape_are_refused_not_failed(tp):
    """Signed by us, so verified; a payload that is no inquiry, a confidence that is NaN, or a created-at whose
    instant in UTC is before the year 1 is answered with its reason (rejected, or 400), never a 500."""
    secret = tp.settings.persona_webhook_secret

    def event(payload, created_at: str | None = None) -> bytes:
        return json.dumps({"data": {"type": "event", "id": f"evt_{uuid.uuid4().hex}", "attributes": {
            "name": "inquiry.completed", "created-at": created_at or datetime.now(timezone.utc).isoformat(),
            "payload": payload}}}).encode()

    for payload in ([1], {"data": "inq"}, {"data": {"id": "inq_x", "attributes": "flat"}},
                    {"data": {"id": "inq_x", "attributes": {"confidence-score": "NaN"}}}):
        body = event(payload)
        answer = await _post(tp, body, persona_signature(secret, body))
        assert answer.status_code == 200 and answer.json()["outcome"] in ("rejected", "ignored_unknown_inquiry"), \
            (payload, answer.text)
    body = event({}, "0001-01-01T00:00:00+01:00")
    assert_problem(await _post(tp, body, persona_signature(secret, body)), 400)


async def test_the_sandbox_signing_with_two_secrets_during_a_rotation(tp, identity_sandboxes):
    from tests.identity.test_identity import _answer_hosted_form, _government_id, _status

    firm = await tp.new_firm()
    _, admin = await tp.staff_session(firm, "admin")
    client = await tp.new_client(admin)
    vid = (await tp.http.post(f"/v1/clients/{client['id']}/identity/verify", headers=admin,
                              json={"tier": 2, "methods": ["government_id"]})).json()["data"]["verification_id"]
    await identity_sandboxes.configure_persona(secrets=["the-retired-secret", tp.settings.persona_webhook_secret])
    try:
        await _answer_hosted_form(await _government_id(tp, admin, vid), "approved", 0.91)
        await _status(tp, admin, vid, "completed")
    finally:
        await identity_sandboxes.configure_persona(secrets=[tp.settings.persona_webhook_secret])
    [(delivery, status, answer)] = [d for d in identity_sandboxes.delivered
                                    if d[0]["event"]["data"]["attributes"]["name"] == "inquiry.completed"
                                    and d[0]["event"]["data"]["attributes"]["payload"]["data"]["attributes"][
                                        "reference-id"] == vid]
    assert len(delivery["headers"]["Persona-Signature"].split()) == 2
    assert status == 200 and answer["outcome"] == "applied"
