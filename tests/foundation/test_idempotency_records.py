"""What an idempotency record keeps (issue 13, medium 6): a keyed hash of the request, never a digest someone who
reads the table could test guessed SSNs against; the response encrypted and bound to its record; and nothing
past its TTL, because a purge runs on a schedule. Replays themselves: tests/foundation/test_conventions.py."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import timedelta

from temporalio.worker import Replayer

from domain.idempotency.service import IdempotencyStore, Outcome, request_hash
from orchestration import queues
from orchestration.idempotency import PURGE_WORKFLOW_ID, IdempotencyPurgeInput, ensure_purge_running
from orchestration.payload_codec import sealed_data_converter
from orchestration.sandbox_runner import LeanSandboxRunner
from workflows.idempotency_purge import IdempotencyPurgeWorkflow

from tests.foundation.conftest import sql
from tests.tax_return.conftest import poll

NAME = "Zebulon Quartermaine"
SSN = "123-45-6789"
EMAIL = "zebulon.quartermaine@example.com"


def _client_body() -> bytes:
    return json.dumps({"client_type": "individual", "name": NAME, "ssn": SSN, "email": EMAIL,
                       "date_of_birth": "1961-07-14"}).encode()


async def _create(tp, admin, key: str, body: bytes):
    return await tp.http.post("/v1/clients", content=body,
                              headers={**admin, "X-Idempotency-Key": key, "Content-Type": "application/json"})


async def _record(tp, key: str):
    [row] = await sql(tp, "SELECT principal, request_hash, response_body, status_code FROM idempotency_keys "
                          "WHERE key = :k", k=key)
    return row


async def test_the_stored_request_hash_is_keyed(tp, admin):
    """Today's unkeyed SHA-256 gave the SSN away: the last four digits are in the response, leaving 10^5 guesses
    to hash. The stored hash is an HMAC under IDEMPOTENCY_HASH_KEY: no digest of the request is in the table,
    and another key does not reproduce it."""
    key, body = f"key-{uuid.uuid4()}", _client_body()
    assert (await _create(tp, admin, key, body)).status_code == 201
    row = await _record(tp, key)
    stored = bytes(row.request_hash)
    for unkeyed in (hashlib.sha256(b"POST /v1/clients?\n" + body).digest(), hashlib.sha256(body).digest()):
        assert stored != unkeyed
    assert stored == request_hash(tp.settings.idempotency_hash_key.encode(), row.principal, key, "POST",
                                  "/v1/clients", b"", body)
    assert stored != request_hash(b"another key, as an attacker would guess it", row.principal, key, "POST",
                                  "/v1/clients", b"", body)


async def test_a_stored_client_response_holds_no_pii_in_clear_and_still_replays(tp, admin):
    key, body = f"key-{uuid.uuid4()}", _client_body()
    first = await _create(tp, admin, key, body)
    assert first.status_code == 201, first.text
    assert first.json()["data"]["ssn_last4"] == "6789"  # what the first answer holds, and so the stored one
    stored = bytes((await _record(tp, key)).response_body)
    for clear in (NAME.encode(), b"Zebulon", EMAIL.encode(), b"6789", b"123456789", b"123-45-6789", b"1961-07-14",
                  first.json()["data"]["id"].encode(), b"ssn_last4"):
        assert clear not in stored, clear
    again = await _create(tp, admin, key, body)
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content  # byte for byte what the first request answered


async def test_a_stored_response_opens_only_on_its_own_record(tp, admin):
    """The ciphertext is bound to its record (caller, key, request hash): a body copied onto another record
    does not open there, so one caller's stored answer cannot be made to replay to another request."""
    mine, theirs = f"key-{uuid.uuid4()}", f"key-{uuid.uuid4()}"
    assert (await _create(tp, admin, mine, _client_body())).status_code == 201
    other_body = json.dumps({"client_type": "individual", "name": "Somebody Else"}).encode()
    assert (await _create(tp, admin, theirs, other_body)).status_code == 201
    await sql(tp, "UPDATE idempotency_keys SET response_body = (SELECT response_body FROM idempotency_keys "
                  "WHERE key = :mine) WHERE key = :theirs", mine=mine, theirs=theirs)
    replay = await _create(tp, admin, theirs, other_body)
    assert replay.status_code == 500 and NAME not in replay.text


async def test_a_record_made_under_the_previous_hash_key_replays_while_rotating(tp):
    old, new = b"o" * 32, b"n" * 32
    ttl = timedelta(hours=tp.settings.idempotency_ttl_hours)
    before = IdempotencyStore(tp.state.sessionmaker, ttl, tp.state.cipher, [old])
    principal, key = f"test:{uuid.uuid4()}", f"key-{uuid.uuid4()}"
    request = (principal, key, "POST", "/v1/clients", b"", b'{"name": "Rotated"}')
    assert (await before.begin(*request))[0] is Outcome.PROCEED
    await before.finish(principal, key, 201, b'{"data": {"name": "Rotated"}}', {"content-type": "application/json"})

    rotating = IdempotencyStore(tp.state.sessionmaker, ttl, tp.state.cipher, [new, old])
    outcome, stored = await rotating.begin(*request)
    assert outcome is Outcome.REPLAY and stored.body == b'{"data": {"name": "Rotated"}}' and stored.status == 201
    # Once the old key is dropped its records are other requests: refused (422), never run a second time.
    rotated = IdempotencyStore(tp.state.sessionmaker, ttl, tp.state.cipher, [new])
    assert (await rotated.begin(*request))[0] is Outcome.MISMATCH


async def test_expired_records_are_purged_on_a_schedule(tp, admin):
    """The purge workflow (admin queue, started by the worker) deletes records past the TTL and claims abandoned
    in flight, whether or not their key is ever used again; a live record stays."""
    expired, abandoned, live = (f"key-{uuid.uuid4()}" for _ in range(3))
    for key in (expired, abandoned, live):
        assert (await _create(tp, admin, key, _client_body())).status_code == 201
    await sql(tp, "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => :h) WHERE key = :k",
              h=tp.settings.idempotency_ttl_hours + 1, k=expired)
    await sql(tp, "UPDATE idempotency_keys SET status_code = NULL, response_body = NULL, "
                  "created_at = now() - interval '10 minutes' WHERE key = :k", k=abandoned)

    async def only_the_live_one_left():
        rows = await sql(tp, "SELECT key FROM idempotency_keys WHERE key IN (:a, :b, :c)",
                         a=expired, b=abandoned, c=live)
        return {r.key for r in rows} == {live}

    await ensure_purge_running(tp.temporal, queues.ADMIN, IdempotencyPurgeInput(interval_seconds=0.2))
    try:
        await poll(only_the_live_one_left)
        # Its rounds replay on today's code (a change that would break the running purge fails here).
        history = await tp.temporal.get_workflow_handle(PURGE_WORKFLOW_ID).fetch_history()
        await Replayer(workflows=[IdempotencyPurgeWorkflow], workflow_runner=LeanSandboxRunner(),
                       data_converter=sealed_data_converter(tp.settings.temporal_payload_keys)).replay_workflow(history)
    finally:
        await tp.temporal.get_workflow_handle(PURGE_WORKFLOW_ID).terminate("test over")
