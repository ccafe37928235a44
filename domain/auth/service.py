"""Sign-in, MFA, token refresh, logout, portal magic links, staff invitations, and per-request authentication.

Every failure a caller can cause answers the same way whether or not the account exists, and costs the
same time (argon2 verifies a dummy hash for unknown emails), so accounts cannot be enumerated.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidTag
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain.auth import totp
from domain.auth.models import AuthSession, OneTimeToken, RefreshToken
from domain.auth.passwords import hash_password, verify_password
from domain.auth.tokens import ACCESS, CODEC, CODEC_TICKET, MFA, TokenSigner
from domain.client.models import Client
from domain.config.models import SystemConfig
from domain.config.service import load_config
from domain.context import RequestOrigin, ServiceContext, audit_entry
from domain.crypto import FieldCipher, hash_token, new_secret_token
from domain.errors import BusinessRuleViolation, Unauthorized
from domain.principal import Principal
from domain.roles import Role
from domain.user.models import User
from domain.user.service import check_password_strength

log = logging.getLogger("taxpractice.auth")

LOCKOUT_MINUTES = 15
CODEC_TICKET_LIFETIME = timedelta(minutes=1)
INVITATION_DAYS = 7
# last_seen_at is written at most this often, so authentication is a read on almost every request.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)
INVALID_CREDENTIALS = "Invalid email or password"
MFA_METHODS = ("totp",)  # second factors a sign-in may use (api/schemas/auth.py reads it)
# one_time_tokens purpose of a spent mfa_token (its jti, hashed): each finishes one sign-in.
MFA_CHALLENGE = "mfa_challenge"
# Whether the token's session and user are still alive, read on every authenticated request: built once and
# run on the Core connection (building it per request and the ORM execution path cost ~1 ms of API CPU).
SESSION_STATE = (
    select(AuthSession.revoked_at, AuthSession.last_seen_at, User.is_active, SystemConfig.session_timeout_minutes)
    .outerjoin(User, User.id == AuthSession.user_id)
    .outerjoin(SystemConfig, SystemConfig.firm_id == AuthSession.firm_id)
    .where(AuthSession.id == bindparam("session_id"))
)


@dataclass
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str | None = None


@dataclass
class MailedLink:
    """A link to mail after the transaction commits (the caller sends it)."""

    email: str
    token: str
    purpose: str


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _session_claims(principal: Principal) -> dict:
    return {"sub": str(principal.subject_id), "role": principal.role.value, "email": principal.email,
            "client_ids": [], "sid": str(principal.session_id), "firm_id": str(principal.firm_id)}


@dataclass
class Authenticator:
    signer: TokenSigner
    cipher: FieldCipher
    access_minutes: int = 30
    client_access_minutes: int = 60
    refresh_days: int = 14
    mfa_minutes: int = 5
    magic_link_minutes: int = 15

    # ---- staff sign-in ------------------------------------------------------------------------------------

    async def login(self, session: AsyncSession, email: str, password: str,
                    origin: RequestOrigin = RequestOrigin()) -> dict:
        """Step one. Answers `mfa_required` with an mfa_token, or tokens when the firm turned MFA off."""
        user = (await session.execute(select(User).where(func.lower(User.email) == email.lower()))).scalar_one_or_none()
        # argon2 takes tens of milliseconds of CPU by design: off the event loop, so other requests go on.
        password_ok = await asyncio.to_thread(verify_password, user.password_hash if user else None, password)
        if user is None or not user.is_active:
            if user is None:
                # No firm to audit it under; logged for whoever watches for credential stuffing. Not the email:
                # typed addresses are often passwords pasted into the wrong field.
                log.warning("sign-in refused for an unknown email from %s (request %s)", origin.ip_address,
                            origin.request_id)
            raise Unauthorized(INVALID_CREDENTIALS)
        config = await load_config(session, user.firm_id)
        now = _now()
        if user.locked_until is not None and user.locked_until > now:
            # Same answer as a wrong password: a lockout must not confirm that the account exists.
            _audit(session, user, "auth.login_refused", origin, {"reason": "locked"})
            raise Unauthorized(INVALID_CREDENTIALS)
        if not password_ok:
            await self._count_failure(session, user, config, "wrong_password", origin)
            raise Unauthorized(INVALID_CREDENTIALS)
        if config.mfa_required:
            mfa_token = self.signer.issue({"sub": str(user.id), "firm_id": str(user.firm_id)}, MFA,
                                          timedelta(minutes=self.mfa_minutes))
            return {"status": "mfa_required", "mfa_token": mfa_token, "mfa_methods": list(MFA_METHODS)}
        user.failed_login_count, user.locked_until = 0, None
        pair = await self.open_session(session, user, config)
        _audit(session, user, "auth.login", origin, {"mfa": False})
        return {"status": "authenticated", **token_response(pair)}

    async def _count_failure(self, session: AsyncSession, user: User, config: SystemConfig, reason: str,
                             origin: RequestOrigin) -> None:
        # Counted in the database, not on the loaded row: parallel wrong passwords each read the same count, and
        # writing back count + 1 let them overwrite each other, so the lockout never came. The UPDATE takes the
        # row's lock; a concurrent one waits for it and increments what was committed.
        count = (await session.execute(
            update(User).where(User.id == user.id).values(failed_login_count=User.failed_login_count + 1)
            .returning(User.failed_login_count))).scalar_one()
        details = {"reason": reason, "consecutive_failures": count}
        if count >= config.failed_login_lockout_attempts:
            await session.execute(update(User).where(User.id == user.id).values(
                locked_until=_now() + timedelta(minutes=LOCKOUT_MINUTES), failed_login_count=0))
            details["locked_minutes"] = LOCKOUT_MINUTES
        _audit(session, user, "auth.login_failed", origin, details)
        await session.flush()

    async def verify_mfa(self, session: AsyncSession, mfa_token: str, code: str,
                         origin: RequestOrigin = RequestOrigin()) -> TokenPair:
        claims = self.signer.verify(mfa_token, MFA)
        user = await session.get(User, uuid.UUID(claims["sub"]), with_for_update=True)
        if user is None or not user.is_active or user.totp_secret_encrypted is None:
            raise Unauthorized("Invalid MFA token")
        # An mfa_token finishes one sign-in: its jti is recorded when a code is accepted (below), and a spent
        # token is refused before its code is even looked at. A wrong code does not spend it, so a mistyped code
        # can be retried. The user row is locked, so two concurrent verifications cannot both pass this check.
        spent = (await session.execute(select(OneTimeToken.id).where(
            OneTimeToken.token_hash == hash_token(claims["jti"]), OneTimeToken.purpose == MFA_CHALLENGE))).first()
        if spent is not None:
            raise Unauthorized("Invalid MFA token")
        config = await load_config(session, user.firm_id)
        if user.locked_until is not None and user.locked_until > _now():
            _audit(session, user, "auth.login_refused", origin, {"reason": "locked"})
            raise Unauthorized("Invalid verification code")
        try:
            secret, legacy = totp.open_secret(self.cipher, user.id, user.totp_secret_encrypted)
        except InvalidTag:  # a ciphertext that is not this user's (copied from another row): no code can match
            _audit(session, user, "auth.login_refused", origin, {"reason": "totp_secret_not_this_users"})
            raise Unauthorized("Invalid verification code") from None
        step = totp.matching_step(secret, code, user.last_totp_step)
        if step is None:
            await self._count_failure(session, user, config, "wrong_totp_code", origin)
            raise Unauthorized("Invalid verification code")
        session.add(OneTimeToken(purpose=MFA_CHALLENGE, firm_id=user.firm_id, email=user.email, user_id=user.id,
                                 token_hash=hash_token(claims["jti"]), used_at=_now(),
                                 expires_at=datetime.fromtimestamp(claims["exp"], timezone.utc)))
        user.last_totp_step = step
        if legacy:
            user.totp_secret_encrypted = totp.seal_secret(self.cipher, user.id, secret)
        user.failed_login_count, user.locked_until = 0, None
        pair = await self.open_session(session, user, config)
        _audit(session, user, "auth.login", origin, {"mfa": True})
        return pair

    async def open_session(self, session: AsyncSession, user: User, config: SystemConfig) -> TokenPair:
        auth_session = AuthSession(id=uuid.uuid4(), firm_id=user.firm_id, user_id=user.id, role=user.role,
                                   client_ids=[])
        session.add(auth_session)
        refresh = new_secret_token()
        session.add(RefreshToken(session_id=auth_session.id, token_hash=hash_token(refresh),
                                 expires_at=_now() + timedelta(days=self.refresh_days)))
        await session.flush()
        access, lifetime = self._access_token(auth_session, user.email, config)
        return TokenPair(access_token=access, expires_in=lifetime, refresh_token=refresh)

    def _access_token(self, auth_session: AuthSession, email: str | None, config: SystemConfig) -> tuple[str, int]:
        if auth_session.role == Role.CLIENT:
            minutes = min(self.client_access_minutes, config.session_timeout_minutes * 2)
            subject = auth_session.client_ids[0]
        else:
            minutes = min(self.access_minutes, config.session_timeout_minutes)
            subject = auth_session.user_id
        claims = {
            "sub": str(subject),
            "role": auth_session.role,
            "email": email,
            "client_ids": [str(c) for c in auth_session.client_ids],
            "sid": str(auth_session.id),
            "firm_id": str(auth_session.firm_id),
        }
        return self.signer.issue(claims, ACCESS, timedelta(minutes=minutes)), minutes * 60

    async def refresh(self, session: AsyncSession, refresh_token: str,
                      origin: RequestOrigin = RequestOrigin()) -> TokenPair:
        row = (await session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == hash_token(refresh_token)).with_for_update()
        )).scalar_one_or_none()
        if row is None:
            raise Unauthorized("Invalid refresh token")
        auth_session = await session.get(AuthSession, row.session_id, with_for_update=True)
        if row.rotated_at is not None:
            # A rotated token came back: it was stolen or replayed. End the whole family (the session).
            if auth_session.revoked_at is None:
                auth_session.revoked_at, auth_session.revoked_reason = _now(), "refresh_token_reuse"
                session.add(audit_entry(auth_session.firm_id, auth_session.user_id or auth_session.client_ids[0],
                                        auth_session.role, "auth.refresh_token_reuse", "auth_session",
                                        auth_session.id, origin=origin))
            await session.flush()
            raise Unauthorized("Refresh token was already used; the session has been revoked")
        if auth_session.revoked_at is not None or row.expires_at <= _now():
            raise Unauthorized("Invalid refresh token")
        user = await session.get(User, auth_session.user_id) if auth_session.user_id else None
        if user is not None and not user.is_active:
            raise Unauthorized("Invalid refresh token")
        config = await load_config(session, auth_session.firm_id)
        if auth_session.last_seen_at + timedelta(minutes=config.session_timeout_minutes) <= _now():
            auth_session.revoked_at, auth_session.revoked_reason = _now(), "idle_timeout"
            await session.flush()
            raise Unauthorized("Session timed out")
        row.rotated_at = _now()
        new_refresh = new_secret_token()
        session.add(RefreshToken(session_id=auth_session.id, token_hash=hash_token(new_refresh),
                                 expires_at=row.expires_at))
        auth_session.last_seen_at = _now()
        await session.flush()
        access, lifetime = self._access_token(auth_session, user.email if user else auth_session.client_email, config)
        return TokenPair(access_token=access, expires_in=lifetime, refresh_token=new_refresh)

    async def logout(self, session: AsyncSession, principal: Principal,
                     origin: RequestOrigin = RequestOrigin()) -> None:
        await session.execute(
            update(AuthSession).where(AuthSession.id == principal.session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=func.now(), revoked_reason="logout")
        )
        session.add(audit_entry(principal.firm_id, principal.subject_id, principal.role.value, "auth.logout",
                                "auth_session", principal.session_id, origin=origin))

    # ---- every request ------------------------------------------------------------------------------------

    async def authenticate(self, session: AsyncSession, access_token: str, token_type: str = ACCESS) -> Principal:
        """Verify the JWT (an access token, or one of the codec tokens below), then check in one query that its
        session and user are still alive: signing out ends every token of the sign-in."""
        claims = self.signer.verify(access_token, token_type)
        try:
            session_id = uuid.UUID(claims["sid"])
            firm_id = uuid.UUID(claims["firm_id"])
            role = Role(claims["role"])
            subject = uuid.UUID(claims["sub"])
            client_ids = frozenset(uuid.UUID(c) for c in claims.get("client_ids") or [])
        except (KeyError, ValueError, TypeError):
            raise Unauthorized("Invalid token") from None
        connection = await session.connection()
        row = (await connection.execute(SESSION_STATE, {"session_id": session_id})).first()
        if row is None or row.revoked_at is not None or row.is_active is False:
            raise Unauthorized("Session has ended")
        now = _now()
        timeout = timedelta(minutes=row.session_timeout_minutes or 30)
        if row.last_seen_at + timeout <= now:
            raise Unauthorized("Session timed out")
        if now - row.last_seen_at >= LAST_SEEN_RESOLUTION:
            await session.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now))
        return Principal(firm_id=firm_id, role=role, subject_id=subject, session_id=session_id,
                         email=claims.get("email"), client_ids=client_ids)

    # ---- Temporal UI's codec calls from a browser (api/v1/temporal_codec.py) ---------------------------------

    def codec_ticket(self, principal: Principal) -> tuple[str, int]:
        """A one-minute ticket for a link the operator opens in the browser that runs Temporal UI."""
        return self.signer.issue(_session_claims(principal), CODEC_TICKET, CODEC_TICKET_LIFETIME), \
            int(CODEC_TICKET_LIFETIME.total_seconds())

    async def codec_token(self, session: AsyncSession, ticket: str) -> tuple[Principal, str, int]:
        """The ticket, still valid and its sign-in alive, exchanged for a codec token (as long-lived as an
        access token), good for the codec endpoint only."""
        principal = await self.authenticate(session, ticket, CODEC_TICKET)
        return principal, self.signer.issue(_session_claims(principal), CODEC,
                                            timedelta(minutes=self.access_minutes)), self.access_minutes * 60

    # ---- client portal ------------------------------------------------------------------------------------

    async def request_magic_links(self, session: AsyncSession, email: str) -> list[MailedLink]:
        """One link per firm that has a client with this email; none (and no hint) when there is none."""
        firms = (await session.execute(
            select(Client.firm_id).where(func.lower(Client.email) == email.lower(), Client.deleted_at.is_(None),
                                         Client.status != "closed").distinct()
        )).scalars().all()
        links = []
        for firm_id in firms:
            token = new_secret_token()
            session.add(OneTimeToken(purpose="portal_login", firm_id=firm_id, email=email.lower(),
                                     token_hash=hash_token(token),
                                     expires_at=_now() + timedelta(minutes=self.magic_link_minutes)))
            links.append(MailedLink(email=email, token=token, purpose="portal_login"))
        await session.flush()
        return links

    async def _consume(self, session: AsyncSession, token: str, purpose: str) -> OneTimeToken:
        row = (await session.execute(
            select(OneTimeToken).where(OneTimeToken.token_hash == hash_token(token),
                                       OneTimeToken.purpose == purpose).with_for_update()
        )).scalar_one_or_none()
        if row is None or row.used_at is not None or row.expires_at <= _now():
            raise Unauthorized("This link is invalid or has expired")
        row.used_at = _now()
        return row

    async def verify_magic_link(self, session: AsyncSession, token: str,
                                origin: RequestOrigin = RequestOrigin()) -> TokenPair:
        row = await self._consume(session, token, "portal_login")
        client_ids = (await session.execute(
            select(Client.id).where(Client.firm_id == row.firm_id, func.lower(Client.email) == row.email,
                                    Client.deleted_at.is_(None), Client.status != "closed")
            .order_by(Client.created_at, Client.id)
        )).scalars().all()
        if not client_ids:
            raise Unauthorized("This link is invalid or has expired")
        auth_session = AuthSession(id=uuid.uuid4(), firm_id=row.firm_id, user_id=None, client_email=row.email,
                                   client_ids=list(client_ids), role=Role.CLIENT.value)
        session.add(auth_session)
        await session.flush()
        config = await load_config(session, row.firm_id)
        access, lifetime = self._access_token(auth_session, row.email, config)
        session.add(audit_entry(row.firm_id, client_ids[0], Role.CLIENT.value, "auth.portal_login", "auth_session",
                                auth_session.id, client_id=client_ids[0],
                                details={"client_ids": [str(c) for c in client_ids]}, origin=origin))
        return TokenPair(access_token=access, expires_in=lifetime)

    # ---- staff invitations --------------------------------------------------------------------------------

    async def invite(self, ctx: ServiceContext, user: User) -> MailedLink:
        token = new_secret_token()
        ctx.session.add(OneTimeToken(purpose="staff_invitation", firm_id=user.firm_id, email=user.email,
                                     user_id=user.id, token_hash=hash_token(token),
                                     expires_at=_now() + timedelta(days=INVITATION_DAYS)))
        await ctx.session.flush()
        return MailedLink(email=user.email, token=token, purpose="staff_invitation")

    async def accept_invitation(self, session: AsyncSession, token: str, password: str,
                                origin: RequestOrigin = RequestOrigin()) -> tuple[User, str]:
        """Set the password; answer the TOTP secret once so the user can enrol an authenticator app."""
        check_password_strength(password)
        row = await self._consume(session, token, "staff_invitation")
        user = await session.get(User, row.user_id, with_for_update=True)
        if user is None or not user.is_active:
            raise Unauthorized("This link is invalid or has expired")
        if user.password_hash is not None:
            raise BusinessRuleViolation("This account already has a password")
        user.password_hash = await asyncio.to_thread(hash_password, password)
        secret = totp.new_secret()
        user.totp_secret_encrypted = totp.seal_secret(self.cipher, user.id, secret)
        user.last_totp_step = None
        _audit(session, user, "auth.invitation_accepted", origin)
        await session.flush()
        return user, secret


def token_response(pair: TokenPair) -> dict:
    body = {"access_token": pair.access_token, "expires_in": pair.expires_in, "token_type": "Bearer"}
    if pair.refresh_token is not None:
        body["refresh_token"] = pair.refresh_token
    return body


def _audit(session: AsyncSession, user: User, action: str, origin: RequestOrigin, details: dict | None = None) -> None:
    """Sign-in events of a known staff user (unknown emails have no firm to log them under)."""
    session.add(audit_entry(user.firm_id, user.id, user.role, action, "user", user.id, details=details, origin=origin))
