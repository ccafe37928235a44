"""Field encryption for data that must never sit in clear at rest (SSNs, TOTP secrets), and secret hashing.

AES-256-GCM with a random 96-bit nonce; a leading key-version byte leaves room for key rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = 1


class FieldCipher:
    def __init__(self, key_b64: str):
        key = base64.b64decode(key_b64)
        if len(key) != 32:
            raise ValueError("the field encryption key must be 32 bytes, base64-encoded")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: str, associated_data: bytes = b"") -> bytes:
        return self.encrypt_bytes(plaintext.encode(), associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes = b"") -> str:
        return self.decrypt_bytes(blob, associated_data).decode()

    # Bytes as they are (a stored HTTP response body), with the same layout as the text form.
    def encrypt_bytes(self, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        nonce = os.urandom(12)
        return bytes([_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, associated_data)

    def decrypt_bytes(self, blob: bytes, associated_data: bytes = b"") -> bytes:
        if not blob or blob[0] != _VERSION:
            raise ValueError("unknown ciphertext version")
        return self._aead.decrypt(blob[1:13], blob[13:], associated_data)


def new_secret_token() -> str:
    """256 random bits, URL-safe: magic links, refresh tokens."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """Tokens are stored as SHA-256 only; they have 256 bits of entropy, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).digest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
