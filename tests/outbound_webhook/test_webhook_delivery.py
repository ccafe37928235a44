"""Deliveries end to end on the suite's workers: a change's event arrives signed and verifiable by the
`standardwebhooks` library, under the event's id; rotation signs with both secrets; a failing endpoint's attempts
are logged and redelivery sends the same event id; 410 disables at once; no redirect is followed; a forbidden
address is never connected to."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from domain.event.models import DomainEvent
from integrations.webhook_sender import WebhookSender
from integrations.webhook_target import TargetPolicy
from sandboxes.webhook_receiver import Receiver, serve
from devstack.ports import free_port
from tests.outbound_webhook.conftest import attempts, deliveries, endpoint_row, register, unique, until
from tests.tax_return.conftest import create_return, office, shared_staff, transition  # noqa: F401


async def _registered(tp, firm, receiver, path: str, **fields) -> dict:
    endpoint = await register(tp, firm, receiver.url + path, **fields)
    receiver.receiver.trust(path, endpoint["secret"])
    return endpoint


async def test_return_status_changes_arrive_signed_thin_and_in_order(tp, receiver, office):
    from tests.outbound_webhook.conftest import Firm

    firm = Firm(office.firm_id, office.users["admin"].id, office.headers["admin"])
    path = "/ok/" + unique("returns")
    await _registered(tp, firm, receiver, path, events=["return.status_changed"])
    created = await create_return(tp, office.headers["preparer"], office.client["id"])
    await transition(tp, office.headers["preparer"], created["id"], "request_documents")
    await transition(tp, office.headers["preparer"], created["id"], "mark_ready_for_prep")

    got = await receiver.receiver.wait_for(path, 2)
    assert all(r.verified for r in got), [r.error for r in got]
    events = sorted((r.event for r in got), key=lambda e: e["timestamp"])
    assert [(e["data"]["from_status"], e["data"]["to_status"]) for e in events] == [
        ("intake", "documents_pending"), ("documents_pending", "ready_for_prep")]
    first = events[0]
    assert first["type"] == "return.status_changed"
    assert first["data"]["entity_id"] == created["id"] and first["data"]["client_id"] == office.client["id"]
    assert first["data"]["links"]["self"].endswith(f"/v1/returns/{created['id']}")
    # Thin: ids, statuses, a link; nothing of the return itself.
    assert set(first["data"]) == {"id", "firm_id", "entity_type", "entity_id", "client_id", "action", "from_status",
                                  "to_status", "links"}
    async with tp.state.sessionmaker() as session:
        stored = (await session.execute(select(DomainEvent.id).where(
            DomainEvent.entity_id == uuid.UUID(created["id"]), DomainEvent.type == "return.status_changed"))).scalars()
        assert {str(i) for i in stored} == {r.headers["webhook-id"] for r in got}


async def test_test_event_and_rotation_sign_with_both_secrets(tp, receiver, firm):
    path = "/ok/" + unique("rotation")
    endpoint = await register(tp, firm, receiver.url + path, events=["invoice.paid"])
    old = endpoint["secret"]
    rotated = (await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/rotate-secret", headers=firm.admin)).json()
    new = rotated["data"]["secret"]
    receiver.receiver.trust(path, old)  # a receiver that has not switched yet still verifies
    sent = await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)
    assert sent.status_code == 202, sent.text
    got = (await receiver.receiver.wait_for(path, 1))[0]
    assert got.verified and got.event["type"] == "webhook.test"
    signatures = got.headers["webhook-signature"].split(" ")
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
    # …and one that has switched verifies too, with the new secret alone.
    switched = Receiver()
    switched.trust(path, new)
    assert switched.verify(path, got.body, got.headers) is None


async def test_a_failing_endpoint_logs_every_attempt_and_redelivers_the_same_event(tp, receiver, firm):
    path = "/fail/" + unique("failing")
    endpoint = await _registered(tp, firm, receiver, path, events=["invoice.paid"])
    await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)
    # The first attempt at once, the second 5 s later.
    await receiver.receiver.wait_for(path, 2, timeout_s=30)
    log = await until(lambda: _log_with_attempts(tp, firm, endpoint["id"], 2))
    delivery = log[0]
    assert delivery["status"] == "pending"
    assert [(a["number"], a["status_code"], a["succeeded"]) for a in delivery["attempts"][:2]] == [
        (1, 500, False), (2, 500, False)]
    assert all(a["latency_ms"] is not None and a["error"] == "HTTP 500" for a in delivery["attempts"])
    assert (await endpoint_row(tp, endpoint["id"])).failing_since is not None

    redelivered = await tp.http.post(
        f"/v1/admin/webhooks/{endpoint['id']}/deliveries/{delivery['id']}/redeliver", headers=firm.admin)
    assert redelivered.status_code == 202, redelivered.text
    assert redelivered.json()["data"]["redelivery_of"] == delivery["id"]
    got = await receiver.receiver.wait_for(path, 3, timeout_s=30)
    assert len({r.headers["webhook-id"] for r in got}) == 1  # one event, one id, however often it is sent
    assert all(r.verified for r in got)


async def _log_with_attempts(tp, firm, endpoint_id, count: int):
    response = await tp.http.get(f"/v1/admin/webhooks/{endpoint_id}/deliveries", headers=firm.admin)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return data if data and len(data[0]["attempts"]) >= count else None


async def test_410_disables_the_endpoint_at_once_and_mails_the_admins(tp, receiver, firm):
    admin, _ = await tp.staff(firm.firm_id, "admin")
    path = "/gone/" + unique("gone")
    endpoint = await _registered(tp, firm, receiver, path, events=["invoice.paid"])
    await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)
    row = await until(lambda: _disabled(tp, endpoint["id"]))
    assert row.disabled_reason == "gone"
    [delivery] = await deliveries(tp, endpoint["id"])
    assert delivery.status == "failed" and len(await attempts(tp, delivery.id)) == 1
    mail = await tp.wait_for_mail(admin.email)
    assert "disabled" in mail["subject"]
    # Disabled: a test is refused, and enabling clears the reason.
    refused = await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)
    assert refused.status_code == 409
    enabled = await tp.http.patch(f"/v1/admin/webhooks/{endpoint['id']}", headers=firm.admin, json={"enabled": True})
    assert enabled.json()["data"]["disabled_reason"] is None


async def _disabled(tp, endpoint_id):
    row = await endpoint_row(tp, endpoint_id)
    return row if not row.enabled else None


async def test_a_redirect_is_not_followed(tp, receiver, firm):
    name = unique("redirected")
    path = "/redirect/" + name
    endpoint = await _registered(tp, firm, receiver, path, events=["invoice.paid"])
    await tp.http.post(f"/v1/admin/webhooks/{endpoint['id']}/test", headers=firm.admin)
    await receiver.receiver.wait_for(path, 1)
    log = await until(lambda: _log_with_attempts(tp, firm, endpoint["id"], 1))
    first = log[0]["attempts"][0]
    assert first["status_code"] == 302 and "not followed" in first["error"] and not first["succeeded"]
    assert receiver.receiver.at(f"/ok/{name}-redirected") == []


async def test_the_sender_never_connects_to_a_forbidden_address():
    """Where local targets are refused (production), an endpoint whose name now resolves to loopback (DNS
    rebinding after registration) is refused at the attempt, and the receiver there hears nothing."""
    local = Receiver()
    running = await serve(local, free_port())
    try:
        sender = WebhookSender(TargetPolicy(allow_local=False))
        port = running.url.rsplit(":", 1)[1]
        for url in (f"http://127.0.0.1:{port}/ok/x", f"https://127.0.0.1:{port}/ok/x",
                    f"https://localhost:{port}/ok/x", f"https://[::ffff:127.0.0.1]:{port}/ok/x"):
            result = await sender.post(url, b"{}", {})
            assert result.status_code is None and result.error.startswith("refused"), (url, result)
        assert local.received == []
        allowed = await WebhookSender(TargetPolicy(allow_local=True)).post(f"http://localhost:{port}/ok/x", b"{}", {})
        assert allowed.status_code == 400  # reached (no secret registered there, so it refuses the signature)
        assert len(local.received) == 1
    finally:
        await running.stop()
