"""Staff sign-in with MFA, token refresh, logout, JWKS, invitations (spec §2.2) and the portal (§2.3)."""

from __future__ import annotations

from typing import Awaitable, Callable, TypeVar

from fastapi import APIRouter, BackgroundTasks, Response
from sqlalchemy.ext.asyncio import AsyncSession

from api import envelope
from api.deps import CurrentPrincipal, Session, State
from api.json_route import JSONRoute
from api.openapi import One, answers
from api.schemas.auth import (
    AcceptInvitationRequest, InvitationAccepted, JwkSet, LoginAnswer, LoginRequest, MagicLinkRequest, MagicLinkSent,
    MfaVerifyRequest, RefreshRequest, TokenPair, VerifyLinkRequest,
)
from api.request_context import origin
from api.state import AppState
from orchestration import outbox
from orchestration.mail import mail
from orchestration.message import OutboxMessage
from settings import Settings
from domain.auth import totp
from domain.auth.service import MailedLink, token_response
from domain.errors import DomainError

router = APIRouter(route_class=JSONRoute, tags=["auth"])

T = TypeVar("T")


async def _committing_failures(state: AppState, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run `work` in its own transaction that commits even when it answers an auth error: failed attempts
    (lockout counting, refresh-token reuse revocation) must survive the error response they cause."""
    async with state.sessionmaker() as session:
        try:
            result = await work(session)
        except DomainError:
            await session.commit()
            raise
        await session.commit()
        return result


@router.post("/auth/login", summary="Staff login (step one: password)", operation_id="login",
             **answers(LoginAnswer, 401, public=True))
async def login(body: LoginRequest, state: State):
    """Check the password; answer `mfa_required` with a short-lived mfa_token."""
    await state.signin_limit.check(body.email)  # 429 past the per-account limit, before any hash is computed
    return await _committing_failures(state, lambda s: state.authenticator.login(s, body.email, body.password, origin()))


@router.post("/auth/mfa/verify", summary="Complete MFA with a TOTP code", operation_id="verify_mfa",
             **answers(TokenPair, 401, public=True))
async def verify_mfa(body: MfaVerifyRequest, state: State):
    """Exchange the mfa_token and a TOTP code (each code works once) for access and refresh tokens."""
    pair = await _committing_failures(state, lambda s: state.authenticator.verify_mfa(s, body.mfa_token, body.code, origin()))
    return token_response(pair)


@router.post("/auth/refresh", summary="Rotate the refresh token", operation_id="refresh_token",
             **answers(TokenPair, 401, public=True))
async def refresh(body: RefreshRequest, state: State):
    """A new access token and a new refresh token; reusing a rotated refresh token ends the session."""
    pair = await _committing_failures(state, lambda s: state.authenticator.refresh(s, body.refresh_token, origin()))
    return token_response(pair)


@router.post("/auth/logout", summary="End the current session", operation_id="logout",
             **answers(None, status=204, description="Signed out"))
async def logout(principal: CurrentPrincipal, session: Session, state: State):
    """Every token of this sign-in stops working at once."""
    await state.authenticator.logout(session, principal, origin())
    return Response(status_code=204)


@router.get("/auth/jwks", summary="Public keys that verify access tokens", operation_id="get_jwks",
            **answers(JwkSet, public=True))
async def jwks(state: State):
    """RS256 keys as a JWK Set, for services that verify our tokens themselves."""
    return state.authenticator.signer.jwks()


@router.post("/auth/invitations/accept", summary="Accept a staff invitation", operation_id="accept_invitation",
             **answers(One(InvitationAccepted), 401, 409, 422, public=True))
async def accept_invitation(body: AcceptInvitationRequest, state: State):
    """Set a password from the mailed invitation; answers the TOTP secret to enrol an authenticator app."""
    user, secret = await _committing_failures(
        state, lambda s: state.authenticator.accept_invitation(s, body.token, body.password, origin()))
    return envelope.one({"id": str(user.id), "email": user.email, "totp_secret": secret,
                         "otpauth_uri": totp.provisioning_uri(secret, user.email)})


def link_mail(settings: Settings, link: MailedLink) -> OutboxMessage:
    """The mail of a portal login link or a staff invitation, for the outbox of the transaction that made it."""
    if link.purpose == "portal_login":
        url = f"{settings.portal_base_url}/login?token={link.token}"
        subject = "Your Tax Practice sign-in link"
        text = (f"Sign in to your client portal:\n\n{url}\n\nThe link works once and expires in "
                f"{settings.magic_link_minutes} minutes. If you did not ask for it, ignore this message.\n\n"
                f"Token: {link.token}\n")
    else:
        url = f"{settings.portal_base_url}/accept-invitation?token={link.token}"
        subject = "You have been invited to Tax Practice"
        text = (f"Set your password and enrol two-factor authentication:\n\n{url}\n\nToken: {link.token}\n")
    return mail(link.email, subject, text, about=link.purpose)


@router.post("/portal/auth/magic-link", summary="Mail a client a sign-in link", operation_id="request_magic_link",
             **answers(MagicLinkSent, public=True))
async def request_magic_link(body: MagicLinkRequest, state: State, background: BackgroundTasks):
    """Always the same answer, whether or not the address belongs to a client."""

    async def issue(session: AsyncSession) -> list[outbox.Pending]:
        links = await state.authenticator.request_magic_links(session, body.email)
        return [await state.outbox.add(session, link_mail(state.settings, link)) for link in links]

    pending = await _committing_failures(state, issue)
    # Sent after the response, so the answer's timing does not tell whether the address is registered; the
    # mails are committed with their tokens, so a crash before then leaves them to the relay.
    background.add_task(state.outbox.send, *pending)
    return {"message": "If this email is registered, a login link has been sent."}


@router.post("/portal/auth/verify-link", summary="Exchange a magic link for a client token",
             operation_id="verify_magic_link", **answers(TokenPair, 401, public=True))
async def verify_link(body: VerifyLinkRequest, state: State):
    """A client access token scoped to the clients the link's address belongs to."""
    pair = await _committing_failures(state, lambda s: state.authenticator.verify_magic_link(s, body.token, origin()))
    return token_response(pair)
