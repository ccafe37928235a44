"""A portal client for one connection: its secrets opened, its session kept between activities and syncs, and
the check before every request that stops a sync when its consent or its connection no longer allows it.

Why a shared session: each (surface, account) of a sync is its own activity, and a sign-in costs a TOTP step (a
code works once, and at most one try per 30 s step), so the tokens and the last step used live, encrypted, on the
connection row and every activity takes them up; a rotated refresh token is written back at once.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.consent.models import Consent
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose
from domain.portal.models import PortalConnection
from integrations.portal import PortalClient, SessionState, SessionTokens
from integrations.providers import ClientPortal

SOURCE = "portal_sync"


class SyncStopped(Exception):
    """The sync must not make its next request: `reason` is consent_revoked, consent_expired, no_consent,
    consent_not_signed, connection_paused or connection_deleted."""

    def __init__(self, reason: str):
        super().__init__(f"portal sync stopped: {reason}")
        self.reason = reason


def seal(cipher: FieldCipher, connection_id: uuid.UUID, value: str) -> bytes:
    # Bound to the connection: a blob copied into another row does not open.
    return cipher.encrypt(value, associated_data=connection_id.bytes)


def unseal(cipher: FieldCipher, connection_id: uuid.UUID, blob: bytes) -> str:
    return cipher.decrypt(blob, associated_data=connection_id.bytes)


def session_state(cipher: FieldCipher, connection: PortalConnection) -> SessionState:
    if connection.session_encrypted is None:
        return SessionState()
    raw = unseal(cipher, connection.id, connection.session_encrypted)
    stored = json.loads(raw)
    tokens = SessionTokens(**stored["tokens"]) if stored.get("tokens") else None
    return SessionState(tokens=tokens, otp_last_step=stored.get("otp_last_step", -1))


def sealed_state(cipher: FieldCipher, connection_id: uuid.UUID, state: SessionState) -> bytes:
    body = {"tokens": state.tokens.__dict__ if state.tokens else None, "otp_last_step": state.otp_last_step}
    return seal(cipher, connection_id, json.dumps(body))


def disclosure(connection: PortalConnection, information: str, account_client_id: uuid.UUID | None = None):
    """What a pull discloses, against the connection's consent: the portal learns which records the firm reads
    for the consenting client (and the linked account's client, named as the entity)."""
    return gate.Disclosure(client_id=connection.client_id, recipient=connection.recipient,
                           purpose=DisclosurePurpose.PORTAL_IMPORT, information=information,
                           entity_type="client" if account_client_id else None, entity_id=account_client_id)


@dataclass
class ConnectionSession:
    """Opens the portal client of one connection. `information` names what the requests read (portal.<surface>)
    for the gate's check before each request; `account_client_id` the linked account's client."""

    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    portal: ClientPortal
    connection_id: uuid.UUID
    information: str = "portal.accounts"
    account_client_id: uuid.UUID | None = None
    # Pause and delete stop a sync; the drift check and creation run on a connection in any state.
    require_active: bool = True
    _inflight: asyncio.Future | None = field(default=None, repr=False)
    _allowed: "_Allowed | None" = field(default=None, repr=False)
    _check_began: float = field(default=0.0, repr=False)
    _passed_began: float | None = field(default=None, repr=False)  # when the newest check that allowed began

    async def open(self, connection: PortalConnection) -> PortalClient:
        cid = connection.id
        return self.portal.open(
            base_url=connection.base_url, email=unseal(self.cipher, cid, connection.email_encrypted),
            password=unseal(self.cipher, cid, connection.password_encrypted),
            totp_secret=(unseal(self.cipher, cid, connection.totp_secret_encrypted)
                         if connection.totp_secret_encrypted else None),
            device_id=connection.device_id, state=session_state(self.cipher, connection),
            on_state=self.save_state, before_request=self.check)

    async def save_state(self, state: SessionState) -> None:
        async with self.sessionmaker.begin() as session:
            connection = await session.get(PortalConnection, self.connection_id)
            if connection is not None:
                connection.session_encrypted = sealed_state(self.cipher, self.connection_id, state)

    async def check(self) -> None:
        """Before every request: the connection still active, and the gate still allowing. Requests issued
        together (a page's downloads, several at a time) share checks instead of each asking the database: a
        request goes ahead on a check that allowed and began less than `CHECK_SHARED_FOR_S` before it, so a pause
        or a revocation stops every request issued more than that after it. The next check starts
        `CHECK_RENEWED_AFTER_S` after the last began, while requests still go ahead on the last: they seldom wait
        for the database."""
        now = time.monotonic()
        last = self._inflight
        if last is None or (last.done() and not _failed(last) and now - self._check_began >= CHECK_RENEWED_AFTER_S):
            self._inflight, self._check_began = asyncio.ensure_future(self._check_from(now)), now
        if not self._inflight.done() and self._passed_began is not None and \
                now - self._passed_began < CHECK_SHARED_FOR_S:
            return
        # A refusal (or a check that failed) is never replaced: it raises here for every request after it, even
        # one that could still have gone ahead on the check before.
        await asyncio.shield(self._inflight)

    async def _check_from(self, began: float) -> None:
        await self._check_now()
        self._passed_began = max(began, self._passed_began or began)

    async def _check_now(self) -> None:
        """One small query reads what the gate's answer depends on: the connection's status and the client's
        portal-import consents (`standing`). While that is what it was when the gate last allowed (and no
        consent's expiry has come, and that decision is under `REDECIDE_AFTER_S` old), the answer stands; else
        the gate decides again. An allowed check is not logged (the pull's decision was, when it started); a
        refusal is, and stops the sync."""
        async with self.sessionmaker() as session:
            standing = (await session.execute(_standing_query(self.connection_id))).all()
        now = time.monotonic()
        if self._allowed is not None and self._allowed.holds(standing, now):
            return
        self._allowed = None
        async with self.sessionmaker() as session:
            connection = await session.get(PortalConnection, self.connection_id)
            if connection is None or connection.deleted_at is not None:
                raise SyncStopped("connection_deleted")
            if self.require_active and connection.status == "paused":
                raise SyncStopped("connection_paused")
            ctx = ServiceContext.for_system(session, connection.firm_id, SOURCE)
            decision = await gate.authorize(ctx, disclosure(connection, self.information, self.account_client_id))
            if decision.allowed:
                await session.rollback()
                self._allowed = _Allowed(standing, now, _next_expiry(standing))
                return
            await session.commit()
            raise SyncStopped(decision.refusal_reason or "no_consent")


# How long one check answers for the requests issued after it began: a page's downloads, eight at a time, are
# ~400 requests a second, and a check per request was a third of the worker's CPU per document.
CHECK_SHARED_FOR_S = 0.05
# When the next check starts: early enough that it has usually answered before the last one runs out (a check
# takes ~1–20 ms while a page downloads), late enough to ask the database ~30 times a second at most.
CHECK_RENEWED_AFTER_S = 0.03
# The gate decides again at least this often even when nothing it reads has changed: a rule it may gain later (a
# firm-wide stop, say) then holds within this time, and everything it reads today holds before the next request.
REDECIDE_AFTER_S = 2.0


def _failed(check: asyncio.Future) -> bool:
    return check.cancelled() or check.exception() is not None


def _standing_query(connection_id: uuid.UUID):
    """The connection's status and deletion, with every disclosure consent of its client for a portal import
    (the gate's candidates): one row per consent, or one row of NULL consent columns when there is none."""
    return (select(PortalConnection.status, PortalConnection.deleted_at, Consent.id, Consent.status,
                   Consent.third_party_name, Consent.tax_year, Consent.signed_at, Consent.expires_at,
                   Consent.revoked_at)
            .select_from(PortalConnection)
            .outerjoin(Consent, and_(Consent.firm_id == PortalConnection.firm_id,
                                     Consent.client_id == PortalConnection.client_id,
                                     Consent.kind == "disclosure",
                                     Consent.purpose == DisclosurePurpose.PORTAL_IMPORT.value))
            .where(PortalConnection.id == connection_id)
            .order_by(Consent.id))


def _next_expiry(standing: list) -> float | None:
    """When (on the monotonic clock) the first consent still in the future expires: the gate's answer may
    change then although no row did."""
    now = datetime.now(timezone.utc)
    ahead = [row.expires_at for row in standing if row.expires_at is not None and row.expires_at > now]
    return time.monotonic() + (min(ahead) - now).total_seconds() if ahead else None


@dataclass(frozen=True)
class _Allowed:
    """The gate's last allowing answer and what it was read from."""

    standing: list
    at: float
    until: float | None

    def holds(self, standing: list, now: float) -> bool:
        return (standing == self.standing and now - self.at < REDECIDE_AFTER_S
                and (self.until is None or now < self.until))
