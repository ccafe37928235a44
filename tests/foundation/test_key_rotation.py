"""The field-encryption key rotates (domain/crypto.py, domain/crypto_rotation.py): each ciphertext names its key,
two keys open during a rotation, and `taxpractice keys rotate` re-seals every stored ciphertext under the current
key, in batches, idempotently, so the previous key can go.

The tests share the session's database with every other test: each rotation here is undone (rotated back to the
harness's key) before the test ends."""

from __future__ import annotations

import base64
import json
import os
import uuid

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary

from domain.auth import totp
from domain.client.service import ssn_associated_data
from domain.crypto import FieldCipher
from domain.crypto_rotation import ENCRYPTED_COLUMNS, rotate
from domain.db import Base
from domain.outbound_webhook import secrets as webhook_secrets
from domain.outbox.models import OutboxEntry
from domain.outbox.sealing import open_payload
from orchestration import mail
from tests.foundation.conftest import sql
from tests.foundation.test_cli import _run
from tests.foundation.test_client import FULL_CLIENT
from tests.support import outbox_entries


def _new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


async def _stored(tp, statement: str, **params) -> bytes:
    return bytes((await sql(tp, statement, **params))[0][0])


async def _rotated_back(tp, from_key: str) -> None:
    reports = await rotate(tp.state.sessionmaker, FieldCipher(tp.settings.ssn_encryption_key, from_key))
    assert not any(r.unreadable for r in reports.values()), reports


def test_a_ciphertext_names_its_key_and_two_keys_open_while_rotating():
    old, new = _new_key(), _new_key()
    sealed_old = FieldCipher(old).encrypt("123456789", b"row-1")
    rotating = FieldCipher(new, old)
    assert rotating.decrypt(sealed_old, b"row-1") == "123456789"
    assert not rotating.is_current(sealed_old)
    sealed_new = rotating.encrypt("123456789", b"row-1")
    assert rotating.is_current(sealed_new) and sealed_new[1:9] != sealed_old[1:9]  # the key id travels along
    assert FieldCipher(new).decrypt(sealed_new, b"row-1") == "123456789"
    with pytest.raises(InvalidTag):  # the previous key dropped: what it sealed no longer opens
        FieldCipher(new).decrypt(sealed_old, b"row-1")
    with pytest.raises(InvalidTag):  # still bound to its row
        rotating.decrypt(rotating.reseal(sealed_old, b"row-1"), b"row-2")


async def test_keys_rotate_reseals_every_stored_ciphertext_and_a_second_run_changes_nothing(tp, admin, firm):
    old, new = tp.settings.ssn_encryption_key, _new_key()
    created = (await tp.http.post("/v1/clients", json=FULL_CLIENT, headers=admin)).json()["data"]
    client_id = uuid.UUID(created["id"])
    staff, _ = await tp.staff(firm, "preparer")  # with a TOTP secret
    # An SSN sealed before ciphertexts named their key (version 1: version byte, nonce, sealed bytes).
    legacy_client = (await tp.http.post("/v1/clients", json={k: v for k, v in FULL_CLIENT.items() if k != "ssn"}, headers=admin)
                     ).json()["data"]
    nonce = os.urandom(12)
    legacy = bytes([1]) + nonce + AESGCM(base64.b64decode(old)).encrypt(
        nonce, b"987654321", ssn_associated_data(uuid.UUID(legacy_client["id"])))
    await sql(tp, "UPDATE clients SET ssn_encrypted = :blob WHERE id = :id", blob=legacy,
              id=uuid.UUID(legacy_client["id"]))
    # A mail waiting in the outbox, and a row sealed under a key nobody holds any more (reported, left alone).
    async with tp.state.sessionmaker.begin() as session:
        waiting = await tp.state.outbox.add(session, mail.mail("rotate@client.example.com", "Hi", "Sealed.",
                                                               about="rotation-test"))
        lost_id = uuid.uuid4()
        session.add(OutboxEntry(id=lost_id, entity_type="mail", entity_id="rotation-lost", kind=mail.SEND,
                                sealed_payload=FieldCipher(_new_key()).encrypt_bytes(b"{}"), attempts=0))

    # An outbound webhook endpoint's signing secret (sealed, bound to the endpoint's id).
    webhook_secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    endpoint = await tp.http.post("/v1/admin/webhooks", headers=admin, json={
        "url": "http://127.0.0.1:9/rotation", "events": ["invoice.paid"], "secret": webhook_secret})
    assert endpoint.status_code == 201, endpoint.text
    endpoint_id = uuid.UUID(endpoint.json()["data"]["id"])

    env = {"SSN_ENCRYPTION_KEY": new, "SSN_ENCRYPTION_PREVIOUS_KEY": old}
    try:
        code, out, err = await _run(tp, "keys", "rotate", "--batch-size", "3", "--json", env=env)
        assert code == 0, err
        first = json.loads(out)
        assert set(first) == {column.name for column in ENCRYPTED_COLUMNS}
        assert first["clients.ssn_encrypted"]["resealed"] >= 2
        assert first["users.totp_secret_encrypted"]["resealed"] >= 1
        assert first["outbox.sealed_payload"]["unreadable"] == [str(lost_id)]

        only_new = FieldCipher(new)  # the previous key dropped: everything opens under the new one alone
        ssn = await _stored(tp, "SELECT ssn_encrypted FROM clients WHERE id = :id", id=client_id)
        assert only_new.decrypt(ssn, ssn_associated_data(client_id)) == "123456789"
        legacy_id = uuid.UUID(legacy_client["id"])
        ssn = await _stored(tp, "SELECT ssn_encrypted FROM clients WHERE id = :id", id=legacy_id)
        assert only_new.decrypt(ssn, ssn_associated_data(legacy_id)) == "987654321"
        secret = await _stored(tp, "SELECT totp_secret_encrypted FROM users WHERE id = :id", id=staff.id)
        assert totp.open_secret(only_new, staff.id, secret) == (staff.totp_secret, False)
        [entry] = await outbox_entries(tp, "rotation-test")
        assert open_payload(only_new, entry)["to"] == "rotate@client.example.com"
        assert entry.id == waiting.entry_id
        sealed = await _stored(tp, "SELECT secret_ciphertext FROM webhook_endpoints WHERE id = :id", id=endpoint_id)
        assert webhook_secrets.open_(only_new, endpoint_id, sealed) == webhook_secret

        code, out, err = await _run(tp, "keys", "rotate", "--json", env=env)  # idempotent
        assert code == 0, err
        assert all(report["resealed"] == 0 for report in json.loads(out).values())
    finally:
        await sql(tp, "DELETE FROM outbox WHERE entity_id IN ('rotation-lost', 'rotation-test')")
        await sql(tp, "DELETE FROM webhook_endpoints WHERE id = :id", id=endpoint_id)
        await _rotated_back(tp, new)


# Binary columns that are not sealed with the field cipher: hash chains and keyed hashes (nothing to re-seal).
NOT_SEALED = {"audit_log.prev_hash", "audit_log.row_hash", "idempotency_keys.request_hash",
              "one_time_tokens.token_hash", "refresh_tokens.token_hash"}


def test_every_sealed_column_is_one_keys_rotate_reseals():
    """A new encrypted column must join ENCRYPTED_COLUMNS, or dropping the previous key would lose its values."""
    binary = {f"{table.name}.{column.name}" for table in Base.metadata.sorted_tables for column in table.columns
              if isinstance(column.type, LargeBinary)}
    assert binary - NOT_SEALED == {column.name for column in ENCRYPTED_COLUMNS}
