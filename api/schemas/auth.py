from typing import Annotated

import email_validator
from pydantic import AfterValidator, Field

from api.schemas.base import MailableEmail, RequestModel, one_of
from domain.auth.service import MFA_METHODS


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
    password: str = Field(min_length=1, max_length=1024)
