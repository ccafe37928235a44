"""RS256 JWTs: access tokens (spec §2.1 claims plus `sid` and `firm_id`) and short-lived MFA tokens.

The algorithm is pinned on decode, so `alg=none` and HS256-with-the-public-key forgeries are refused.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from domain.errors import Unauthorized

ALGORITHM = "RS256"
CLOCK_SKEW_LEEWAY = timedelta(seconds=30)  # another server's clock may run a little ahead or behind
VERIFIED_TOKENS_KEPT = 10_000
ACCESS = "access"
MFA = "mfa"
# Temporal UI's codec calls from an operator's browser (api/v1/temporal_codec.py): a one-minute ticket in a link,
# exchanged once opened for a codec token in a cookie that only the codec endpoint receives.
CODEC_TICKET = "codec_ticket"
CODEC = "codec"


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load_or_create_private_key(path: Path, create: bool) -> rsa.RSAPrivateKey:
    """Production mounts the key; development generates one once under .data/ so tokens survive restarts."""
    if not path.exists():
        if not create:
            raise RuntimeError(f"JWT private key not found at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.touch(mode=0o600)
        path.write_bytes(pem)
        return key
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_public_key(path: Path) -> rsa.RSAPublicKey:
    """A previous signing key's public half (PEM), kept while tokens it signed may still be alive."""
    return serialization.load_pem_public_key(path.read_bytes())


def _jwk(public_key: rsa.RSAPublicKey) -> dict:
    numbers = public_key.public_numbers()
    jwk = {"kty": "RSA", "alg": ALGORITHM, "use": "sig", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}
    # RFC 7638 thumbprint as the key id, so a rotated key gets a new kid by itself.
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    jwk["kid"] = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    return jwk


@dataclass
class TokenSigner:
    """Signs with one key and verifies with it and the previous ones (rotation: a new key signs at once; tokens
    signed by the old one stay valid until they expire, at most a refresh token's lifetime, and then the old key
    is dropped). The JWKS serves them all, so services that verify our tokens rotate with us."""

    private_key: rsa.RSAPrivateKey
    issuer: str
    audience: str
    previous_public_keys: tuple[rsa.RSAPublicKey, ...] = ()

    def __post_init__(self) -> None:
        self.public_key = self.private_key.public_key()
        self.jwk = _jwk(self.public_key)
        self._verifying = {self.jwk["kid"]: self.public_key}
        self._verified: dict[str, dict] = {}
        self._jwks = [self.jwk]
        for key in self.previous_public_keys:
            jwk = _jwk(key)
            if jwk["kid"] not in self._verifying:
                self._verifying[jwk["kid"]] = key
                self._jwks.append(jwk)

    def jwks(self) -> dict:
        return {"keys": list(self._jwks)}

    def issue(self, claims: dict, token_type: str, lifetime: timedelta) -> str:
        now = datetime.now(timezone.utc)
        payload = {
            **claims,
            "typ": token_type,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": int(now.timestamp()),
            "exp": int((now + lifetime).timestamp()),
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(payload, self.private_key, algorithm=ALGORITHM, headers={"kid": self.jwk["kid"]})

    def verify(self, token: str, token_type: str) -> dict:
        """The token's claims, if its signature, issuer, audience and expiry hold and it is of `token_type`.

        A token verified once is remembered with its claims until it expires: a caller sends the same access
        token on every request of its lifetime, and the RS256 check and PyJWT's claim checks cost a fraction of a
        millisecond each time, twice a request (the rate limiter's key, then authentication; issue 19). Only
        what the token itself proves is remembered: whether its session is still alive is asked every time
        (Authenticator.authenticate). Bounded; emptied when full."""
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                self._verified.clear()
            self._verified[token] = claims
        elif claims["exp"] + CLOCK_SKEW_LEEWAY.total_seconds() <= time.time():
            raise Unauthorized("Token has expired")
        if claims.get("typ") != token_type:
            raise Unauthorized("Invalid token")
        return dict(claims)

    def _decode(self, token: str) -> dict:
        try:
            key = self._verifying.get(jwt.get_unverified_header(token).get("kid"), self.public_key)
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "jti", "typ"]},
                # Another server's clock a little ahead or behind (a token issued "in the future", or expired a
                # moment ago by our clock) is not an attacker: a small leeway, far below any token's lifetime.
                leeway=CLOCK_SKEW_LEEWAY,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("Token has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("Invalid token") from None
        return claims
