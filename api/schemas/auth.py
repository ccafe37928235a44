import uuid
from typing import Annotated

import email_validator
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.openapi import ReadModel
from api.schemas.base import MailableEmail, RequestModel, one_of
from domain.auth.service import MFA_METHODS
from domain.user.service import MIN_PASSWORD_LENGTH


def _stored_spelling(value: str) -> str:
    """Addresses are stored with their domain in ASCII (MailableEmail): a sign-in typed with the Unicode spelling
    of the domain finds the same user. Anything else is looked up as typed."""
    try:
        return email_validator.validate_email(value, check_deliverability=False).ascii_email or value
    except email_validator.EmailNotValidError:
        return value


class LoginRequest(RequestModel):
    # Not EmailStr: a malformed address is just an unknown user, answered like any failed sign-in.
    email: Annotated[str, AfterValidator(_stored_spelling)] = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class MfaVerifyRequest(RequestModel):
    mfa_token: str = Field(min_length=1, max_length=4096)
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")
    method: one_of(MFA_METHODS) = "totp"


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class MagicLinkRequest(RequestModel):
    email: MailableEmail


class VerifyLinkRequest(RequestModel):
    token: str = Field(min_length=1, max_length=512)


class AcceptInvitationRequest(RequestModel):
    token: str = Field(min_length=1, max_length=512)
    password: str = Field(min_length=MIN_PASSWORD_LENGTH, max_length=1024)


# ---- read models: the bare bodies of spec §2.2 and §2.3 (no envelope) ---------------------------------------

class TokenPair(ReadModel):
    access_token: str
    refresh_token: str | None = Field(None, description="Absent where the flow issues none")
    expires_in: int = Field(description="Seconds until the access token expires")
    token_type: str = Field(examples=["Bearer"])


class LoginAnswer(ReadModel):
    """`mfa_required` with an mfa_token for POST /v1/auth/mfa/verify; or, when the firm does not require MFA,
    `authenticated` with the tokens."""

    status: str = Field(examples=["mfa_required", "authenticated"])
    mfa_token: str | None = None
    mfa_methods: list[str] | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_in: int | None = None
    token_type: str | None = None


class Jwk(BaseModel):
    model_config = ConfigDict(extra="allow")  # a JWK carries the members its key type defines (RFC 7517)
    kty: str
    kid: str | None = None


class JwkSet(ReadModel):
    keys: list[Jwk]


class InvitationAccepted(ReadModel):
    id: uuid.UUID
    email: str
    totp_secret: str = Field(description="Base32: enrol it in an authenticator app")
    otpauth_uri: str


class MagicLinkSent(ReadModel):
    message: str
