"""Signing secrets of outbound webhooks, as Standard Webhooks 1.0 has them: `whsec_` + base64 of 24 to 64 random
bytes. Stored sealed with the field cipher (domain/crypto.py), bound to the endpoint's id."""

from __future__ import annotations

import base64
import binascii
import secrets
import uuid

from domain.crypto import FieldCipher

PREFIX = "whsec_"
MIN_BYTES, MAX_BYTES = 24, 64
GENERATED_BYTES = 32


def generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_BYTES)).decode()


def problem(secret: str) -> str | None:
    """None when `secret` is a Standard Webhooks secret a receiver's library accepts; else what is wrong."""
    if not secret.startswith(PREFIX):
        return f"must start with {PREFIX}"
    try:
        key = base64.b64decode(secret[len(PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        return f"must be {PREFIX} followed by base64"
    if not MIN_BYTES <= len(key) <= MAX_BYTES:
        return f"must encode {MIN_BYTES} to {MAX_BYTES} bytes (it encodes {len(key)})"
    return None


def seal(cipher: FieldCipher, endpoint_id: uuid.UUID, secret: str) -> bytes:
    return cipher.encrypt(secret, endpoint_id.bytes)


def open_(cipher: FieldCipher, endpoint_id: uuid.UUID, sealed: bytes) -> str:
    return cipher.decrypt(sealed, endpoint_id.bytes)
