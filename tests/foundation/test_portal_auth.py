"""The client portal's magic link (spec §2.3): mailed, single use, short-lived, stored hashed, and exchanged for
a client token that sees the client's own records and nothing else."""

from __future__ import annotations

import asyncio
import re
import uuid

import jwt

from tests.foundation.conftest import assert_problem, bearer, sql

GENERIC_ANSWER = "If this email is registered, a login link has been sent."


def _email() -> str:
    return f"client-{uuid.uuid4().hex[:12]}@example.com"


async def _request_link(tp, email: str) -> str:
    response = await tp.http.post("/v1/portal/auth/magic-link", json={"email": email})
    assert response.status_code == 200, response.text
    assert response.json() == {"message": GENERIC_ANSWER}
    mail = await tp.wait_for_mail(email)
    match = re.search(r"Token: (\S+)", mail["text"])
    assert match, mail
    return match.group(1)


async def _verify(tp, token: str):
    return await tp.http.post("/v1/portal/auth/verify-link", json={"token": token})


async def test_magic_link_signs_a_client_in_to_their_own_records_only(tp, firm, admin):
    email = _email()
    mine = await tp.new_client(admin, email=email, ssn="123-45-6789")
    neighbour = await tp.new_client(admin)
    await tp.http.post(f"/v1/clients/{mine['id']}/contacts", json={"name": "Spouse"}, headers=admin)

    token = await _request_link(tp, email)
    assert len(token) >= 22  # at least 128 bits of URL-safe randomness
    response = await _verify(tp, token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert "refresh_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["role"] == "client" and claims["client_ids"] == [mine["id"]]
    client = bearer(body["access_token"])

    own = await tp.http.get(f"/v1/clients/{mine['id']}", headers=client)
    assert own.status_code == 200 and own.json()["data"]["ssn_last4"] == "6789"
    assert "123-45-6789" not in own.text
    contacts = await tp.http.get(f"/v1/clients/{mine['id']}/contacts", headers=client)
    assert contacts.status_code == 200 and [c["name"] for c in contacts.json()["data"]] == ["Spouse"]

    # Another client of the same firm, or of another firm, does not exist for this token.
    other_firm_admin = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    stranger = await tp.new_client(other_firm_admin)
    for other in (neighbour, stranger):
        assert_problem(await tp.http.get(f"/v1/clients/{other['id']}", headers=client), 404)
        assert_problem(await tp.http.get(f"/v1/clients/{other['id']}/contacts", headers=client), 404)

    # Staff actions are not the client's to take.
    assert_problem(await tp.http.get("/v1/clients", headers=client), 403, "forbidden")
    assert_problem(await tp.http.patch(f"/v1/clients/{mine['id']}", json={"name": "Me"}, headers=client), 403)
    assert_problem(await tp.http.delete(f"/v1/clients/{mine['id']}", headers=client), 403)
    assert_problem(await tp.http.post(f"/v1/clients/{mine['id']}/contacts", json={"name": "X"}, headers=client), 403)
    assert_problem(await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "X"},
                                      headers=client), 403)
    assert_problem(await tp.http.get("/v1/admin/users", headers=client), 403)
    unchanged = (await tp.http.get(f"/v1/clients/{mine['id']}", headers=admin)).json()["data"]
    assert unchanged["name"] == mine["name"] and len(unchanged["contacts"]) == 1


async def test_a_link_works_once(tp, admin):
    email = _email()
    await tp.new_client(admin, email=email)
    token = await _request_link(tp, email)
    key = {"X-Idempotency-Key": f"key-{uuid.uuid4()}"}
    assert (await tp.http.post("/v1/portal/auth/verify-link", json={"token": token}, headers=key)).status_code == 200
    # Not even a retry under the same idempotency key gets a second token out of the link.
    again = await tp.http.post("/v1/portal/auth/verify-link", json={"token": token}, headers=key)
    assert_problem(again, 401, "unauthorized")
    assert_problem(await _verify(tp, token), 401, "unauthorized")


async def test_a_link_expires_after_fifteen_minutes(tp, admin):
    email = _email()
    await tp.new_client(admin, email=email)
    token = await _request_link(tp, email)
    (lifetime,) = (await sql(tp, "SELECT expires_at - created_at FROM one_time_tokens WHERE email = :e",
                             e=email))[0]
    assert 15 * 60 - 5 < lifetime.total_seconds() <= 15 * 60
    await sql(tp, "UPDATE one_time_tokens SET expires_at = now() - interval '1 second' WHERE email = :e", e=email)
    assert_problem(await _verify(tp, token), 401)


async def test_links_are_stored_hashed(tp, admin):
    email = _email()
    await tp.new_client(admin, email=email)
    token = await _request_link(tp, email)
    rows = await sql(tp, "SELECT t::text FROM one_time_tokens t WHERE email = :e", e=email)
    assert len(rows) == 1 and token not in rows[0][0]
    (stored,) = (await sql(tp, "SELECT token_hash FROM one_time_tokens WHERE email = :e", e=email))[0]
    assert bytes(stored) != token.encode()


async def test_unknown_and_deleted_addresses_get_the_same_answer_and_no_mail(tp, admin):
    unknown = _email()
    response = await tp.http.post("/v1/portal/auth/magic-link", json={"email": unknown})
    assert response.status_code == 200 and response.json() == {"message": GENERIC_ANSWER}
    gone = _email()
    client = await tp.new_client(admin, email=gone)
    assert (await tp.http.delete(f"/v1/clients/{client['id']}", headers=admin)).status_code == 204
    response = await tp.http.post("/v1/portal/auth/magic-link", json={"email": gone})
    assert response.json() == {"message": GENERIC_ANSWER}
    # Mail goes out after the response; the in-process transport waits for it, so none has been sent.
    assert await tp.mail_to(unknown) == [] and await tp.mail_to(gone) == []


async def test_a_shared_address_sees_each_of_its_clients_and_only_in_its_firm(tp, admin):
    email = _email()
    husband = await tp.new_client(admin, email=email, name="Sam Smith")
    business = await tp.new_client(admin, email=email.upper(), name="Smith LLC", client_type="business")
    other_firm_admin = (await tp.staff_session(await tp.new_firm(), "admin"))[1]
    elsewhere = await tp.new_client(other_firm_admin, email=email)

    response = await tp.http.post("/v1/portal/auth/magic-link", json={"email": email})
    assert response.status_code == 200
    mails = []
    for _ in range(50):
        mails = await tp.mail_to(email)
        if len(mails) == 2:
            break
        await asyncio.sleep(0.1)
    assert len(mails) == 2  # one link per firm
    scopes = []
    for mail in mails:
        token = re.search(r"Token: (\S+)", mail["text"]).group(1)
        scopes.append(set(jwt.decode((await _verify(tp, token)).json()["access_token"],
                                     options={"verify_signature": False})["client_ids"]))
    assert sorted(scopes, key=len) == [{elsewhere["id"]}, {husband["id"], business["id"]}]


async def test_an_internationalised_domain_is_one_address_in_its_ascii_form(tp, admin):
    local = f"anna-{uuid.uuid4().hex[:8]}"
    client = await tp.new_client(admin, email=f"{local}@exämple.com")
    assert client["email"] == f"{local}@xn--exmple-cua.com"
    response = await tp.http.post("/v1/portal/auth/magic-link", json={"email": f"{local}@EXÄMPLE.com"})
    assert response.status_code == 200, response.text
    token = re.search(r"Token: (\S+)", (await tp.wait_for_mail(client["email"]))["text"]).group(1)
    assert (await _verify(tp, token)).status_code == 200


async def test_bad_portal_requests_are_clear_400s(tp):
    assert_problem(await tp.http.post("/v1/portal/auth/magic-link", json={"email": "not-an-email"}), 400,
                   "validation")
    assert_problem(await tp.http.post("/v1/portal/auth/magic-link", json={}), 400, "validation")
    assert_problem(await tp.http.post("/v1/portal/auth/magic-link", json={"email": "jürgen@example.com"}), 400,
                   "validation")  # could never be mailed: SMTPUTF8
    assert_problem(await tp.http.post("/v1/portal/auth/verify-link", json={"token": ""}), 400, "validation")
    assert_problem(await tp.http.post("/v1/portal/auth/verify-link", json={"token": "x" * 600}), 400, "validation")
    assert_problem(await _verify(tp, "never-issued"), 401)


async def test_a_client_token_cannot_read_after_the_client_is_deleted(tp, admin):
    email = _email()
    client = await tp.new_client(admin, email=email)
    token = await _request_link(tp, email)
    headers = bearer((await _verify(tp, token)).json()["access_token"])
    assert (await tp.http.get(f"/v1/clients/{client['id']}", headers=headers)).status_code == 200
    assert (await tp.http.delete(f"/v1/clients/{client['id']}", headers=admin)).status_code == 204
    assert_problem(await tp.http.get(f"/v1/clients/{client['id']}", headers=headers), 404)
