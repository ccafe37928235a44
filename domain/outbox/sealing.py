"""Outbox payloads sealed at rest: AES-256-GCM under the field-encryption key (domain/crypto.FieldCipher), bound to
their entry (id, kind, entity), so a payload moved onto another entry opens nothing. Only the sender opens one, at
send time (orchestration/outbox.py)."""

from __future__ import annotations

import json
import uuid

from domain.crypto import FieldCipher
from domain.outbox.models import OutboxEntry


def associated_data(entry_id: uuid.UUID, kind: str, entity_type: str, entity_id: str) -> bytes:
    return "\x1f".join(("outbox", str(entry_id), kind, entity_type, entity_id)).encode()


def seal(cipher: FieldCipher, entry_id: uuid.UUID, kind: str, entity_type: str, entity_id: str,
         payload: dict) -> bytes:
    """The payload as stored: ciphertext bound to its entry."""
    return cipher.encrypt_bytes(json.dumps(payload, separators=(",", ":")).encode(),
                                associated_data(entry_id, kind, entity_type, entity_id))


def open_payload(cipher: FieldCipher, entry: OutboxEntry) -> dict:
    """An entry's payload, opened (or as it is, for an entry written before sealing). InvalidTag when the sealed
    payload is not this entry's."""
    if entry.sealed_payload is None:
        return entry.payload or {}
    return json.loads(cipher.decrypt_bytes(
        entry.sealed_payload, associated_data(entry.id, entry.kind, entry.entity_type, entry.entity_id)))
