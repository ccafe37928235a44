"""Staff sign-in (spec §2.1–2.2): password then TOTP, RS256 access tokens, rotating refresh tokens, logout,
lockout, the firm's MFA and session-timeout settings, and tokens nobody should be able to forge."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pyotp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.foundation.conftest import assert_problem, bearer, sql


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"


async def _public_key(tp):
    jwks = (await tp.http.get("/v1/auth/jwks")).json()
    return jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwks["keys"][0])), jwks["keys"][0]["kid"]


async def _password_step(tp, user, password=None):
    return await tp.http.post("/v1/auth/login", json={"email": user.email, "password": password or user.password})


async def _authorized(tp, headers) -> int:
    return (await tp.http.get("/v1/clients", headers=headers)).status_code


async def test_login_then_totp_gives_an_rs256_token_with_the_spec_claims(tp, firm):
    user = await tp.new_user(firm, "preparer")
    first = await _password_step(tp, user)
    assert first.status_code == 200
    step_one = first.json()
    assert step_one["status"] == "mfa_required" and step_one["mfa_methods"] == ["totp"]
    assert "access_token" not in step_one

    second = await tp.http.post("/v1/auth/mfa/verify",
                                json={"mfa_token": step_one["mfa_token"], "code": user.next_code(), "method": "totp"})
    assert second.status_code == 200, second.text
    tokens = second.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 1800 and tokens["refresh_token"]

    key, kid = await _public_key(tp)
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "RS256" and header["kid"] == kid
    claims = jwt.decode(tokens["access_token"], key, algorithms=["RS256"], audience=tp.settings.jwt_audience)
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "preparer" and claims["email"] == user.email and claims["client_ids"] == []
    assert claims["exp"] - claims["iat"] == 1800 and claims["jti"]
    assert await _authorized(tp, bearer(tokens["access_token"])) == 200


async def test_unknown_user_and_wrong_password_get_the_same_answer(tp, firm, caplog):
    user = await tp.new_user(firm, "admin")
    wrong = assert_problem(await _password_step(tp, user, "not the password at all"), 401, "unauthorized")
    ghost = f"ghost-{uuid.uuid4().hex}@x.com"
    with caplog.at_level("WARNING", logger="taxpractice.auth"):
        unknown = assert_problem(await tp.http.post("/v1/auth/login", json={"email": ghost,
                                                                           "password": "whatever it is"}), 401)
    # No firm to audit it under: logged, with where it came from and never what was typed.
    [refused] = [r.getMessage() for r in caplog.records if r.name == "taxpractice.auth"]
    assert "unknown email" in refused and unknown["meta"]["request_id"] in refused and ghost not in refused
    malformed = assert_problem(await tp.http.post("/v1/auth/login", json={"email": "not an email",
                                                                         "password": "x"}), 401)
    assert wrong["detail"] == unknown["detail"] == malformed["detail"]
    # The email is matched without regard to case.
    assert (await tp.http.post("/v1/auth/login", json={"email": user.email.upper(), "password": user.password})
            ).json()["status"] == "mfa_required"


async def test_login_body_is_validated(tp):
    assert_problem(await tp.http.post("/v1/auth/login", json={"email": "a@b.com"}), 400, "validation")
    body = assert_problem(await tp.http.post("/v1/auth/login", json={"email": "a@b.com", "password": "x",
                                                                      "remember_me": True}), 400, "validation")
    assert body["errors"][0]["code"] == "unknown_field"
    assert_problem(await tp.http.post("/v1/auth/login", content=b"{", headers={"Content-Type": "application/json"}),
                   400, "malformed_json")
    assert_problem(await tp.http.post("/v1/auth/login", json={"email": "a\u0000@b.com", "password": "x"}), 400,
                   "validation")


async def test_a_totp_code_works_once_and_wrong_codes_fail(tp, firm):
    user = await tp.new_user(firm, "reviewer")
    totp = pyotp.TOTP(user.totp_secret)
    code = totp.now()
    mfa_token = (await _password_step(tp, user)).json()["mfa_token"]
    wrong = "000000" if code != "000000" else "111111"
    assert_problem(await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": wrong}), 401)
    ok = await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
    assert ok.status_code == 200, ok.text

    # The mfa_token finished its sign-in: a fresh code does not make it finish a second one.
    spent = await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": user.next_code()})
    assert assert_problem(spent, 401)["detail"] == "Invalid MFA token"

    again = (await _password_step(tp, user)).json()["mfa_token"]
    replay = await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": again, "code": code})
    assert_problem(replay, 401)
    for bad_code in ("12345", "abcdef", "1234567"):
        assert_problem(await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": again, "code": bad_code}),
                       400, "validation")


async def test_one_mfa_token_finishes_one_sign_in_even_when_raced(tp, firm):
    user = await tp.new_user(firm, "preparer")
    mfa_token = (await _password_step(tp, user)).json()["mfa_token"]
    first, second = user.next_code(), user.next_code()  # two valid codes, so only the token can refuse one
    answers = await asyncio.gather(*(tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": code})
                                     for code in (first, second)))
    assert sorted(a.status_code for a in answers) == [200, 401], [a.text for a in answers]
    sessions = await sql(tp, "SELECT count(*) AS n FROM auth_sessions WHERE user_id = :u", u=user.id)
    assert sessions[0].n == 1


async def test_an_address_with_a_unicode_domain_signs_in_either_way(tp, firm):
    """Stored in its ASCII (IDNA) form, as request bodies store it; typed as the user knows it."""
    user = await tp.new_user(firm, "preparer")
    local = user.email.split("@")[0]
    await sql(tp, "UPDATE users SET email = :e WHERE id = :u", e=f"{local}@xn--exmple-cua.com", u=user.id)
    for typed in (f"{local}@exämple.com", f"{local}@xn--exmple-cua.com"):
        answer = await tp.http.post("/v1/auth/login", json={"email": typed, "password": user.password})
        assert answer.status_code == 200 and answer.json()["status"] == "mfa_required", (typed, answer.text)


async def test_mfa_and_access_tokens_are_not_interchangeable(tp, firm):
    user = await tp.new_user(firm, "admin")
    mfa_token = (await _password_step(tp, user)).json()["mfa_token"]
    assert_problem(await tp.http.get("/v1/clients", headers=bearer(mfa_token)), 401)
    tokens = await tp.login(user)
    assert_problem(await tp.http.post("/v1/auth/mfa/verify",
                                      json={"mfa_token": tokens["access_token"], "code": user.next_code()}), 401)


async def test_forged_tampered_and_expired_tokens_are_refused(tp, firm):
    _, headers = await tp.staff_session(firm, "preparer")
    real = headers["Authorization"][7:]
    claims = jwt.decode(real, options={"verify_signature": False})
    header = jwt.get_unverified_header(real)
    server_key = tp.state.authenticator.signer.private_key
    public_pem = tp.state.authenticator.signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())

    def hs256_with_public_key(payload):
        signing_input = _unsigned({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}, payload)
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}"

    head, payload, signature = real.split(".")
    admin_claims = {**claims, "role": "admin"}
    forgeries = {
        "alg none": _unsigned({"alg": "none", "typ": "JWT"}, admin_claims) + ".",
        "HS256 keyed with the public key": hs256_with_public_key(admin_claims),
        "someone else's RSA key": jwt.encode(admin_claims, stranger_key, algorithm="RS256",
                                             headers={"kid": header["kid"]}),
        "RS512 (algorithm not pinned)": jwt.encode(claims, server_key, algorithm="RS512"),
        "payload swapped under a real signature": f"{head}.{_b64(json.dumps(admin_claims).encode())}.{signature}",
        "expired": jwt.encode({**claims, "iat": now - 3600, "exp": now - 60}, server_key, algorithm="RS256"),
        "other audience": jwt.encode({**claims, "aud": "someone-else"}, server_key, algorithm="RS256"),
        "other issuer": jwt.encode({**claims, "iss": "evil"}, server_key, algorithm="RS256"),
        "mfa typ": jwt.encode({**claims, "typ": "mfa"}, server_key, algorithm="RS256"),
        "no expiry": jwt.encode({k: v for k, v in claims.items() if k != "exp"}, server_key, algorithm="RS256"),
        "unknown session": jwt.encode({**claims, "sid": str(uuid.uuid4())}, server_key, algorithm="RS256"),
        "garbage sid": jwt.encode({**claims, "sid": "nope"}, server_key, algorithm="RS256"),
        "truncated": real[:-10],
    }
    for name, token in forgeries.items():
        response = await tp.http.get("/v1/clients", headers=bearer(token))
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        assert_problem(response, 401, "unauthorized")
    expired = await tp.http.get("/v1/clients", headers=bearer(forgeries["expired"]))
    assert "expired" in expired.json()["detail"].lower()
    assert await _authorized(tp, headers) == 200  # the genuine token still works


async def test_refresh_rotates_and_reuse_of_a_rotated_token_ends_the_session(tp, firm):
    user = await tp.new_user(firm, "ea_cpa")
    tokens = await tp.login(user)
    rotated = await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert rotated.status_code == 200, rotated.text
    fresh = rotated.json()
    assert fresh["refresh_token"] != tokens["refresh_token"] and fresh["access_token"] != tokens["access_token"]
    assert fresh["expires_in"] == 1800 and fresh["token_type"] == "Bearer"
    assert await _authorized(tp, bearer(fresh["access_token"])) == 200

    # The old refresh token comes back (stolen, or replayed): the whole family is revoked at once.
    reuse = await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert_problem(reuse, 401)
    assert_problem(await tp.http.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]}), 401)
    assert await _authorized(tp, bearer(fresh["access_token"])) == 401
    assert await _authorized(tp, bearer(tokens["access_token"])) == 401
    assert_problem(await tp.http.post("/v1/auth/refresh", json={"refresh_token": "made-up"}), 401)

    # Refresh tokens are stored hashed: the database never holds the value we were given.
    rows = await sql(tp, "SELECT token_hash FROM refresh_tokens rt JOIN auth_sessions s ON s.id = rt.session_id "
                         "WHERE s.user_id = :u", u=user.id)
    assert len(rows) == 2
    for (stored,) in rows:
        assert tokens["refresh_token"].encode() not in bytes(stored)
        assert bytes(stored) not in (tokens["refresh_token"].encode(), fresh["refresh_token"].encode())


async def test_logout_ends_the_session_at_once(tp, firm):
    user = await tp.new_user(firm, "admin")
    tokens = await tp.login(user)
    other_session = await tp.headers_for(user)
    headers = bearer(tokens["access_token"])
    response = await tp.http.post("/v1/auth/logout", headers=headers)
    assert response.status_code == 204 and response.content == b""
    assert await _authorized(tp, headers) == 401
    assert_problem(await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)
    assert_problem(await tp.http.post("/v1/auth/logout", headers=headers), 401)
    assert await _authorized(tp, other_session) == 200  # only this sign-in ended
    assert_problem(await tp.http.post("/v1/auth/logout"), 401)


async def test_lockout_after_the_configured_number_of_failures(tp, firm):
    user = await tp.new_user(firm, "preparer")
    bystander = await tp.new_user(firm, "preparer")
    earlier_mfa_token = (await _password_step(tp, user)).json()["mfa_token"]
    for _ in range(5):
        assert_problem(await _password_step(tp, user, "wrong password!"), 401)
    locked = assert_problem(await _password_step(tp, user), 401)
    assert locked["detail"] == "Invalid email or password"  # a lockout does not confirm the account exists
    assert (await _password_step(tp, bystander)).status_code == 200
    # A sign-in that got past the password before the lockout cannot finish either.
    assert_problem(await tp.http.post("/v1/auth/mfa/verify",
                                      json={"mfa_token": earlier_mfa_token, "code": user.next_code()}), 401)

    # When the lock ends (15 minutes; moved back here), the right password works again.
    await sql(tp, "UPDATE users SET locked_until = now() - interval '1 second' WHERE id = :u", u=user.id)
    assert (await _password_step(tp, user)).json()["status"] == "mfa_required"


async def test_twenty_concurrent_wrong_passwords_lock_the_account(tp, firm):
    """Counted atomically (issue 13, medium 4): parallel wrong passwords used to overwrite each other's count,
    so a burst of guesses never reached the lockout."""
    user = await tp.new_user(firm, "preparer")
    answers = await asyncio.gather(*(_password_step(tp, user, f"wrong password {i}!") for i in range(20)))
    assert {a.status_code for a in answers} == {401}
    assert_problem(await _password_step(tp, user), 401)  # the right password, during the lockout
    [(locked,)] = await sql(tp, "SELECT locked_until > now() FROM users WHERE id = :u", u=user.id)
    assert locked


async def test_wrong_totp_codes_count_towards_the_lockout(tp, firm, admin):
    response = await tp.http.patch("/v1/admin/config", json={"failed_login_lockout_attempts": 3}, headers=admin)
    assert response.status_code == 200
    user = await tp.new_user(firm, "reviewer")
    valid = set(pyotp.TOTP(user.totp_secret).generate_otp(int(time.time() // 30) + d) for d in (-1, 0, 1))
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    mfa_token = (await _password_step(tp, user)).json()["mfa_token"]
    for _ in range(3):
        assert_problem(await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": wrong}), 401)
    assert_problem(await tp.http.post("/v1/auth/mfa/verify",
                                      json={"mfa_token": mfa_token, "code": user.next_code()}), 401)
    assert_problem(await _password_step(tp, user), 401)


async def test_firm_without_mfa_signs_in_with_the_password_alone(tp, firm, admin):
    response = await tp.http.patch("/v1/admin/config", json={"mfa_required": False}, headers=admin)
    assert response.status_code == 200 and response.json()["data"]["mfa_required"] is False
    user = await tp.new_user(firm, "preparer")
    body = (await _password_step(tp, user)).json()
    assert body["status"] == "authenticated" and "mfa_token" not in body
    assert body["token_type"] == "Bearer" and body["refresh_token"]
    assert await _authorized(tp, bearer(body["access_token"])) == 200


async def test_session_timeout_from_the_firm_config_is_honoured(tp, firm, admin):
    response = await tp.http.patch("/v1/admin/config", json={"session_timeout_minutes": 5}, headers=admin)
    assert response.status_code == 200
    user = await tp.new_user(firm, "preparer")
    tokens = await tp.login(user)
    assert tokens["expires_in"] == 300  # the access token never outlives the idle timeout
    headers = bearer(tokens["access_token"])
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})

    async def idle(minutes):
        await sql(tp, "UPDATE auth_sessions SET last_seen_at = now() - make_interval(mins => :m) WHERE id = :s",
                  m=minutes, s=uuid.UUID(claims["sid"]))

    # Activity keeps the session alive: four idle minutes, a request, four more idle minutes.
    await idle(4)
    assert await _authorized(tp, headers) == 200
    await idle(4)
    assert await _authorized(tp, headers) == 200
    # Six idle minutes end it, for the access token and the refresh token alike.
    await idle(6)
    body = assert_problem(await tp.http.get("/v1/clients", headers=headers), 401)
    assert "timed out" in body["detail"]
    assert_problem(await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}), 401)


async def test_jwks_publishes_the_verification_key(tp):
    response = await tp.http.get("/v1/auth/jwks")
    assert response.status_code == 200
    (key,) = response.json()["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key  # public parts only


async def test_sign_in_answers_are_never_kept_for_replay(tp, firm):
    """Tokens must not sit in clear in the idempotency store, and a key must not let a used secret work twice."""
    user = await tp.new_user(firm, "admin")
    key = f"key-{uuid.uuid4()}"
    login = await tp.http.post("/v1/auth/login", json={"email": user.email, "password": user.password},
                               headers={"X-Idempotency-Key": key})
    verified = await tp.http.post("/v1/auth/mfa/verify", headers={"X-Idempotency-Key": key},
                                  json={"mfa_token": login.json()["mfa_token"], "code": user.next_code()})
    tokens = verified.json()
    refreshed = await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]},
                                   headers={"X-Idempotency-Key": key})
    assert refreshed.status_code == 200
    again = await tp.http.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]},
                               headers={"X-Idempotency-Key": key})
    assert_problem(again, 401)  # the reuse is detected, not answered from a stored copy
    assert await sql(tp, "SELECT 1 FROM idempotency_keys WHERE key = :k", k=key) == []


async def test_a_token_from_a_clock_a_little_ahead_is_accepted_and_one_far_ahead_is_not(tp, firm):
    """A small clock-skew leeway (issue 13, low): issued 10 s "in the future" by another server's clock passes;
    issued 5 minutes ahead does not."""
    import jwt as pyjwt

    user = await tp.new_user(firm, "preparer")
    headers = await tp.headers_for(user)
    signer = tp.state.authenticator.signer
    claims = pyjwt.decode(headers["Authorization"].split()[1], options={"verify_signature": False})
    for ahead, expected in ((10, 200), (300, 401)):
        shifted = {**claims, "iat": claims["iat"] + ahead, "exp": claims["exp"] + ahead}
        token = pyjwt.encode(shifted, signer.private_key, algorithm="RS256", headers={"kid": signer.jwk["kid"]})
        assert await _authorized(tp, {"Authorization": f"Bearer {token}"}) == expected, ahead


async def test_a_totp_secret_opens_only_for_its_own_user(tp, firm):
    """Bound to its user (issue 13, low): one user's sealed secret copied onto another's row opens nothing there.
    A secret sealed before the binding still works, and is sealed again, bound, at that sign-in."""
    alice, bob = await tp.new_user(firm, "preparer"), await tp.new_user(firm, "preparer")
    [(alices,)] = await sql(tp, "SELECT totp_secret_encrypted FROM users WHERE id = :u", u=alice.id)
    await sql(tp, "UPDATE users SET totp_secret_encrypted = :s WHERE id = :u", s=alices, u=bob.id)
    mfa_token = (await _password_step(tp, bob)).json()["mfa_token"]
    assert_problem(await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": alice.next_code()}),
                   401)

    legacy = tp.state.cipher.encrypt(alice.totp_secret, associated_data=b"totp")
    await sql(tp, "UPDATE users SET totp_secret_encrypted = :s WHERE id = :u", s=legacy, u=alice.id)
    mfa_token = (await _password_step(tp, alice)).json()["mfa_token"]
    response = await tp.http.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": alice.next_code()})
    assert response.status_code == 200, response.text
    [(resealed,)] = await sql(tp, "SELECT totp_secret_encrypted FROM users WHERE id = :u", u=alice.id)
    assert bytes(resealed) != legacy
    tp.state.cipher.decrypt(bytes(resealed), associated_data=b"totp:" + alice.id.bytes)


async def test_a_rotated_signing_key_keeps_its_tokens_valid_and_stays_in_the_jwks(tp, firm, tmp_path):
    """JWT key rotation (issue 13, low): the API restarted with a new key and the old one's public half still
    accepts the old key's tokens and serves both keys; tokens of a key it does not know are refused."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    import httpx

    from api.app import create_app
    from api.state import build_state

    user = await tp.new_user(firm, "preparer")
    old_token = await tp.headers_for(user)
    old_public = tp.state.authenticator.signer.public_key
    (tmp_path / "old.pem").write_bytes(old_public.public_bytes(serialization.Encoding.PEM,
                                                                serialization.PublicFormat.SubjectPublicKeyInfo))
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "new.pem").write_bytes(new_key.private_bytes(serialization.Encoding.PEM,
                                                             serialization.PrivateFormat.PKCS8,
                                                             serialization.NoEncryption()))
    for previous, expected in ((tmp_path / "old.pem", 200), (None, 401)):
        rotated = tp.settings.model_copy(update={"jwt_private_key_path": tmp_path / "new.pem",
                                                 "jwt_previous_public_key_path": previous})
        state = build_state(rotated)
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(rotated, state)),
                                         base_url="http://testserver") as http:
                assert (await http.get("/v1/clients", headers=old_token)).status_code == expected
                kids = {k["kid"] for k in (await http.get("/v1/auth/jwks")).json()["keys"]}
        finally:
            await state.engine.dispose()
        assert state.authenticator.signer.jwk["kid"] in kids
        assert (tp.state.authenticator.signer.jwk["kid"] in kids) == (previous is not None)
