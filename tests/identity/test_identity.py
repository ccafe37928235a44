"""Identity verification end to end over HTTP, with the real workers: email and phone codes (through the mail
capture and the SMS gateway sandbox), a government ID through the Persona sandbox's hosted form and its signed
webhooks (approve, manual review, reject, expiry), video scheduling with a calendar invitation, and the
client's identity_verification_status following each."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest_asyncio
from sqlalchemy import update

from domain.identity.models import VerificationCode
from tests.support import domain_events
from tests.tax_return.conftest import assert_problem, make_staff, poll, portal_headers


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def staff(tp):
    firm_id, users, headers = await make_staff(tp, roles=("admin", "reviewer", "preparer"))
    return firm_id, users, headers


async def client_of(tp, staff, phone: str | None = None) -> dict:
    _, users, headers = staff
    return await tp.new_client(headers["admin"], assigned_preparer_id=str(users["preparer"].id),
                               **({"phone": phone} if phone else {}))


async def initiate(tp, headers, client_id: str, tier: int, methods: list[str], expect: int = 201) -> dict:
    response = await tp.http.post(f"/v1/clients/{client_id}/identity/verify", headers=headers,
                                  json={"tier": tier, "methods": methods})
    assert response.status_code == expect, response.text
    return response.json()["data"] if expect == 201 else response


async def mailed_codes(tp, address: str, count: int = 1) -> list[str]:
    def codes(messages):
        return [re.search(r"code is (\d{6})", m["text"]).group(1) for m in messages
                if m["subject"] == "Your identity verification code"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        found = codes(await tp.mail_to(address))
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"fewer than {count} codes mailed to {address}")


async def client_status(tp, headers, client_id: str) -> str:
    return (await tp.http.get(f"/v1/clients/{client_id}", headers=headers)).json()["data"][
        "identity_verification_status"]


async def verify(tp, headers, vid: str, channel: str, code: str):
    return await tp.http.post(f"/v1/identity/{vid}/{channel}/verify", headers=headers, json={"code": code})


async def test_email_code_verifies_the_client(tp, staff):
    admin = staff[2]["admin"]
    client = await client_of(tp, staff)
    started = await initiate(tp, admin, client["id"], 1, ["email"])
    assert (started["status"], started["current_step"]) == ("pending", "email")
    assert [(s["step"], s["status"]) for s in started["steps"]] == [("email", "pending")]
    assert await client_status(tp, admin, client["id"]) == "pending"
    [code] = await mailed_codes(tp, client["email"])
    wrong = "000000" if code != "000000" else "111111"
    body = assert_problem(await verify(tp, admin, started["verification_id"], "email", wrong), 422, "code_invalid")
    assert "2 tries left" in body["detail"]
    # The client answers the code from the portal.
    client_headers = await portal_headers(tp, client["email"])
    done = await verify(tp, client_headers, started["verification_id"], "email", code)
    assert done.status_code == 200, done.text
    data = done.json()["data"]
    assert data["status"] == "completed" and data["client_identity_verification_status"] == "verified"
    assert await client_status(tp, admin, client["id"]) == "verified"
    assert await domain_events(tp, started["verification_id"]) == [("identity.verified", {"status": "verified"})]
    # A used code does not work again.
    assert_problem(await verify(tp, admin, started["verification_id"], "email", code), 409)


async def test_a_code_guessed_wrong_three_times_is_dead_and_codes_are_limited_per_hour(tp, staff):
    admin = staff[2]["admin"]
    client = await client_of(tp, staff)
    vid = (await initiate(tp, admin, client["id"], 1, ["email"]))["verification_id"]
    [code] = await mailed_codes(tp, client["email"])
    wrong = "000000" if code != "000000" else "111111"
    assert_problem(await verify(tp, admin, vid, "email", wrong), 422, "code_invalid")
    assert_problem(await verify(tp, admin, vid, "email", wrong), 422, "code_invalid")
    assert_problem(await verify(tp, admin, vid, "email", wrong), 422, "code_dead")
    # The fourth guess, even the right code, finds it dead.
    assert_problem(await verify(tp, admin, vid, "email", code), 422, "code_dead")
    # Two more codes this hour (three in all), then 429.
    for _ in range(2):
        response = await tp.http.post(f"/v1/identity/{vid}/email/send", headers=admin)
        assert response.status_code == 202, response.text
    assert_problem(await tp.http.post(f"/v1/identity/{vid}/email/send", headers=admin), 429)
    codes = await mailed_codes(tp, client["email"], 3)
    # The latest code works; an expired one would not.
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(update(VerificationCode).where(VerificationCode.verification_id == uuid.UUID(vid))
                              .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert_problem(await verify(tp, admin, vid, "email", codes[-1]), 422, "code_expired")


async def test_phone_code_by_sms_and_voice(tp, staff, identity_sandboxes):
    admin = staff[2]["admin"]
    phone = f"+1 555 {uuid.uuid4().int % 900 + 100} {uuid.uuid4().int % 9000 + 1000}"
    client = await client_of(tp, staff, phone=phone)
    vid = (await initiate(tp, admin, client["id"], 1, ["phone"]))["verification_id"]
    sent = await tp.http.post(f"/v1/identity/{vid}/phone/send", headers=admin, json={"method": "voice"})
    assert sent.status_code == 202 and sent.json()["data"]["delivery"] == "voice", sent.text
    sent = await tp.http.post(f"/v1/identity/{vid}/phone/send", headers=admin, json={"method": "sms"})
    assert sent.status_code == 202, sent.text
    texts = await poll(lambda: _texts(identity_sandboxes, phone, 2), 15)
    assert [t["channel"] for t in texts] == ["voice", "sms"]
    code = re.search(r"code is (\d{6})", texts[-1]["body"]).group(1)
    done = await verify(tp, admin, vid, "phone", code)
    assert done.status_code == 200 and done.json()["data"]["status"] == "completed", done.text


async def _texts(box, phone: str, count: int):
    texts = await box.texts_to(phone)
    return texts if len(texts) >= count else None


async def _government_id(tp, headers, vid: str) -> str:
    response = await tp.http.post(f"/v1/identity/{vid}/government-id", headers=headers)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert datetime.fromisoformat(data["expires_at"]) > datetime.now(timezone.utc) + timedelta(hours=23)
    return data["persona_inquiry_url"]


async def _answer_hosted_form(url: str, outcome: str, confidence: float) -> None:
    """What the tester does on the hosted page: open it (a plain HTML form), pick the outcome and submit."""
    async with httpx.AsyncClient() as http:
        page = await http.get(url)
        assert page.status_code == 200 and "<form" in page.text and 'name="confidence"' in page.text
        inquiry_id = re.search(r'name="inquiry_id" value="([^"]+)"', page.text).group(1)
        answer = await http.post(url.split("?")[0], data={"inquiry_id": inquiry_id, "outcome": outcome,
                                                          "confidence": str(confidence)})
        assert answer.status_code == 200, answer.text


async def _status(tp, headers, vid: str, status: str) -> dict:
    async def reached():
        data = (await tp.http.get(f"/v1/identity/{vid}", headers=headers)).json()["data"]
        return data if data["status"] == status else None
    return await poll(reached, 20)


async def test_government_id_approves_reviews_and_rejects_by_confidence(tp, staff, identity_sandboxes):
    admin, reviewer = staff[2]["admin"], staff[2]["reviewer"]
    results = {}
    for confidence, outcome in ((0.95, "approved"), (0.80, "approved"), (0.50, "approved")):
        client = await client_of(tp, staff)
        vid = (await initiate(tp, admin, client["id"], 2, ["government_id"]))["verification_id"]
        url = await _government_id(tp, admin, vid)
        assert url == await _government_id(tp, admin, vid)  # the live inquiry, not a second one
        await _answer_hosted_form(url, outcome, confidence)
        results[confidence] = (client, vid)
    data = await _status(tp, admin, results[0.95][1], "completed")
    assert data["confidence_score"] == 0.95 and data["client_identity_verification_status"] == "verified"
    data = await _status(tp, admin, results[0.80][1], "needs_review")
    assert data["client_identity_verification_status"] == "pending_review"
    data = await _status(tp, admin, results[0.50][1], "failed")
    assert data["client_identity_verification_status"] == "failed"
    # Manual review by staff (a preparer may not decide it).
    vid = results[0.80][1]
    assert_problem(await tp.http.post(f"/v1/identity/{vid}/review", headers=staff[2]["preparer"],
                                      json={"step": "government_id", "decision": "approve"}), 403)
    reviewed = await tp.http.post(f"/v1/identity/{vid}/review", headers=reviewer,
                                  json={"step": "government_id", "decision": "approve", "notes": "ID checked"})
    assert reviewed.status_code == 200 and reviewed.json()["data"]["status"] == "completed", reviewed.text
    assert await client_status(tp, admin, results[0.80][0]["id"]) == "verified"


async def test_a_pending_inquiry_expires_and_a_new_one_can_start(tp, staff, identity_sandboxes):
    admin = staff[2]["admin"]
    client = await client_of(tp, staff)
    vid = (await initiate(tp, admin, client["id"], 2, ["government_id"]))["verification_id"]
    first = await _government_id(tp, admin, vid)
    await identity_sandboxes.configure_persona(expire_after_s=0.2)
    try:
        async def expired():
            data = (await tp.http.get(f"/v1/identity/{vid}", headers=admin)).json()["data"]
            return data["steps"][0]["status"] == "expired"
        await poll(expired, 20)
    finally:
        await identity_sandboxes.configure_persona(expire_after_s=24 * 3600)
    second = await _government_id(tp, admin, vid)
    assert second != first
    await _answer_hosted_form(second, "approved", 0.97)
    await _status(tp, admin, vid, "completed")


async def test_video_verification_is_scheduled_with_a_calendar_invitation(tp, staff, identity_sandboxes):
    admin, reviewer = staff[2]["admin"], staff[2]["reviewer"]
    client = await client_of(tp, staff)
    assert_problem(await initiate(tp, admin, client["id"], 3, ["email", "government_id"], expect=422), 422)
    vid = (await initiate(tp, admin, client["id"], 3, ["government_id", "video"]))["verification_id"]
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    assert_problem(await tp.http.post(f"/v1/identity/{vid}/video/schedule", headers=admin,
                                      json={"preferred_times": [past]}), 422)
    wanted = (datetime.now(timezone.utc) + timedelta(days=1)).replace(microsecond=0)
    response = await tp.http.post(f"/v1/identity/{vid}/video/schedule", headers=admin,
                                  json={"preferred_times": [past, wanted.isoformat()]})
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["calendar_invite_sent"] and datetime.fromisoformat(data["scheduled_time"]) == wanted
    assert re.fullmatch(r"https://meet\.google\.com/[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{3}", data["meet_link"])
    mail = await tp.wait_for_mail(client["email"])
    [invite] = mail["attachments"]
    assert invite["filename"] == "invite.ics" and invite["content_type"] == "text/calendar"
    assert f"DTSTART:{wanted.strftime('%Y%m%dT%H%M%SZ')}" in invite["content"] and data["meet_link"] in invite["content"]
    url = await _government_id(tp, admin, vid)
    await _answer_hosted_form(url, "approved", 0.93)
    await _status(tp, admin, vid, "in_progress")
    reviewed = await tp.http.post(f"/v1/identity/{vid}/review", headers=reviewer,
                                  json={"step": "video", "decision": "approve"})
    assert reviewed.status_code == 200 and reviewed.json()["data"]["status"] == "completed", reviewed.text
