"""TOTP (RFC 6238) with single use per time step: a code that worked once is refused the second time."""

from __future__ import annotations

import time
import uuid

import pyotp
from cryptography.exceptions import InvalidTag

from domain.crypto import FieldCipher

ISSUER = "Tax Practice"
VALID_WINDOW = 1  # accept the previous and next 30 s step for clock drift


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matching_step(secret: str, code: str, last_used_step: int | None, now: float | None = None) -> int | None:
    """The time step the code belongs to, or None if it is wrong or that step (or a later one) was used."""
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if now is None else now
    current = int(now // totp.interval)
    for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


# ---- the secret at rest ------------------------------------------------------------------------------------------
# Encrypted (domain/crypto.FieldCipher) and bound to its user as associated data: a ciphertext copied onto another
# user's row (by someone who can write the table but holds no key) does not open there. Secrets sealed before the
# binding carry the legacy associated data; they still open, and are sealed again, bound, at the next sign-in.
LEGACY_ASSOCIATED_DATA = b"totp"


def associated_data(user_id: uuid.UUID) -> bytes:
    return b"totp:" + user_id.bytes


def seal_secret(cipher: FieldCipher, user_id: uuid.UUID, secret: str) -> bytes:
    return cipher.encrypt(secret, associated_data=associated_data(user_id))


def open_secret(cipher: FieldCipher, user_id: uuid.UUID, sealed: bytes) -> tuple[str, bool]:
    """The secret, and whether it was sealed the legacy way (unbound). InvalidTag when it is not this user's."""
    try:
        return cipher.decrypt(sealed, associated_data=associated_data(user_id)), False
    except InvalidTag:
        return cipher.decrypt(sealed, associated_data=LEGACY_ASSOCIATED_DATA), True
