"""Field encryption for data that must never sit in clear at rest (SSNs, TOTP secrets, stored responses, outbox
payloads), and secret hashing.

AES-256-GCM with a random 96-bit nonce. A ciphertext names the key that sealed it: a version byte, then the key's
id (8 bytes derived from the key, so no operator has to name keys and no two keys share an id by accident), then
the nonce and the sealed bytes. During a rotation two keys are held: the current one seals, both open, and
`taxpractice keys rotate` (domain/crypto_rotation.py) seals every stored ciphertext again under the current one,
after which the previous key can go (docs/security.md).

Ciphertexts sealed before key ids existed (version 1: version byte, nonce, sealed bytes) were sealed under the one
key there was; they open under whichever held key authenticates them, and the rotation re-seals them too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_UNKEYED = 1  # sealed before key ids: version, nonce, sealed bytes
_KEYED = 2  # version, key id, nonce, sealed bytes
KEY_ID_BYTES = 8
_NONCE_BYTES = 12


def key_id(key: bytes) -> bytes:
    """A key's public name: a domain-separated digest, which tells nothing about the key itself."""
    return hashlib.sha256(b"taxpractice field-encryption key id\0" + key).digest()[:KEY_ID_BYTES]


def _key(key_b64: str) -> bytes:
    key = base64.b64decode(key_b64)
    if len(key) != 32:
        raise ValueError("a field encryption key must be 32 bytes, base64-encoded")
    return key


class FieldCipher:
    """Seals under `key_b64`; opens what it or `previous_key_b64` (while rotating) sealed."""

    def __init__(self, key_b64: str, previous_key_b64: str | None = None):
        current = _key(key_b64)
        self.key_id = key_id(current)
        # What every ciphertext sealed now starts with; a stored one that does not still needs re-sealing.
        self.current_prefix = bytes([_KEYED]) + self.key_id
        self._sealer = AESGCM(current)
        self._openers = {self.key_id: self._sealer}
        if previous_key_b64:
            previous = _key(previous_key_b64)
            self._openers.setdefault(key_id(previous), AESGCM(previous))

    def encrypt(self, plaintext: str, associated_data: bytes = b"") -> bytes:
        return self.encrypt_bytes(plaintext.encode(), associated_data)

    def decrypt(self, blob: bytes, associated_data: bytes = b"") -> str:
        return self.decrypt_bytes(blob, associated_data).decode()

    # Bytes as they are (a stored HTTP response body), with the same layout as the text form.
    def encrypt_bytes(self, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return self.current_prefix + nonce + self._sealer.encrypt(nonce, plaintext, associated_data)

    def decrypt_bytes(self, blob: bytes, associated_data: bytes = b"") -> bytes:
        """InvalidTag when no held key opens it (tampered with, bound to another row, or under a dropped key)."""
        if blob and blob[0] == _KEYED:
            opener = self._openers.get(blob[1:1 + KEY_ID_BYTES])
            if opener is None:
                raise InvalidTag()
            body = blob[1 + KEY_ID_BYTES:]
            return opener.decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], associated_data)
        if blob and blob[0] == _UNKEYED:
            for opener in self._openers.values():
                try:
                    return opener.decrypt(blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:], associated_data)
                except InvalidTag:
                    continue
            raise InvalidTag()
        raise ValueError("unknown ciphertext version")

    def is_current(self, blob: bytes) -> bool:
        """Whether the ciphertext is sealed under the current key (nothing left to rotate)."""
        return blob.startswith(self.current_prefix)

    def reseal(self, blob: bytes, associated_data: bytes = b"") -> bytes:
        """The same plaintext, bound to the same data, sealed under the current key."""
        return self.encrypt_bytes(self.decrypt_bytes(blob, associated_data), associated_data)


def new_secret_token() -> str:
    """256 random bits, URL-safe: magic links, refresh tokens."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    """Tokens are stored as SHA-256 only; they have 256 bits of entropy, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).digest()


def constant_time_equals(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
