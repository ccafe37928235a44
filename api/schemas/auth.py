from typing import Literal

from pydantic import Field

from api.schemas.base import MailableEmail, RequestModel


class LoginRequest(RequestModel):
    # Not EmailStr: a malformed address is just an unknown user, answered like any failed sign-in.
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=1024)


class MfaVerifyRequest(RequestModel):
    mfa_token: str = Field(min_length=1, max_length=4096)
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")
    method: Literal["totp"] = "totp"


class RefreshRequest(RequestModel):
    refresh_token: str = Field(min_length=1, max_length=512)


class MagicLinkRequest(RequestModel):
    email: MailableEmail


class VerifyLinkRequest(RequestModel):
    token: str = Field(min_length=1, max_length=512)


class AcceptInvitationRequest(RequestModel):
    token: str = Field(min_length=1, max_length=512)
    password: str = Field(min_length=1, max_length=1024)
