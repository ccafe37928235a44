"""Everything the API holds for its lifetime, built once from Settings in `create_app`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import domain.models  # noqa: F401  (registers every mapper, so foreign keys resolve)
from domain.audit.read_log import CommittedReadAudit
from domain.auth.service import Authenticator
from domain.auth.signin_limit import SigninLimit
from domain.auth.tokens import TokenSigner, load_or_create_private_key, load_public_key
from domain.crypto import FieldCipher
from domain.errors import ServiceUnavailable
from domain.db import make_engine, make_sessionmaker
from domain.idempotency.service import IdempotencyStore
from domain.rate_limit import SharedCounters
from integrations.build import build_field_cipher, build_mailer, build_storage, build_target_policy
from integrations.mail import Mailer
from integrations.payments import StripePayments
from integrations.portal import PortalConnector
from integrations.storage import ObjectStore
from integrations.webhook_target import TargetPolicy
from settings import Settings
from orchestration.connect import TemporalClient, connect
from orchestration.outbox import Outbox


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    cipher: FieldCipher
    authenticator: Authenticator
    idempotency: IdempotencyStore
    signin_limit: SigninLimit
    mailer: Mailer
    storage: ObjectStore
    payments: StripePayments
    # Where an outbound webhook may point: checked at registration (integrations/webhook_target.py).
    webhook_targets: TargetPolicy
    # Client portals: creating a connection signs in and reads its accounts; the drift check reads a page of each.
    portal: PortalConnector = field(default_factory=PortalConnector)
    _temporal: TemporalClient | None = None
    _temporal_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Every message to a workflow, and every mail, leaves through it (orchestration/outbox.py).
    outbox: Outbox = field(init=False)
    # Audit rows of PII reads, committed before the answer leaves, many per commit (domain/audit/read_log.py).
    read_audit: CommittedReadAudit = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.temporal, self.sessionmaker, self.mailer, self.cipher)
        self.read_audit = CommittedReadAudit(self.engine)

    async def temporal(self) -> TemporalClient:
        """Connected on first use, so the API starts (and answers health checks) while Temporal is down."""
        if self._temporal is None:
            async with self._temporal_lock:
                if self._temporal is None:
                    try:
                        self._temporal = await connect(self.settings)
                    except RuntimeError as exc:  # the SDK's "Failed client connect: …"
                        raise ServiceUnavailable("The workflow engine cannot be reached; retry shortly") from exc
        return self._temporal

    def use_temporal_client(self, client: TemporalClient) -> None:
        self._temporal = client


def jwt_key_path(settings: Settings):
    return settings.jwt_private_key_path or settings.data_dir / "jwt" / "private.pem"


def build_state(settings: Settings) -> AppState:
    engine = make_engine(settings.database_url, settings.db_pool_size, role=settings.database_app_role,
                         pool_timeout_s=settings.db_pool_timeout_s)
    cipher = build_field_cipher(settings)
    previous = ((load_public_key(settings.jwt_previous_public_key_path),)
                if settings.jwt_previous_public_key_path else ())
    signer = TokenSigner(load_or_create_private_key(jwt_key_path(settings), create=settings.is_development),
                         settings.jwt_issuer, settings.jwt_audience, previous)
    sessionmaker = make_sessionmaker(engine)
    return AppState(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        cipher=cipher,
        authenticator=Authenticator(
            signer=signer, cipher=cipher, access_minutes=settings.access_token_minutes,
            client_access_minutes=settings.client_access_token_minutes, refresh_days=settings.refresh_token_days,
            mfa_minutes=settings.mfa_token_minutes, magic_link_minutes=settings.magic_link_minutes),
        signin_limit=SigninLimit(SharedCounters(engine), settings.rate_limit_signin_per_account,
                                 settings.rate_limit_signin_per_account_window_s),
        idempotency=IdempotencyStore(
            sessionmaker, timedelta(hours=settings.idempotency_ttl_hours), cipher,
            [k.encode() for k in (settings.idempotency_hash_key, settings.idempotency_hash_previous_key) if k]),
        mailer=build_mailer(settings),
        storage=build_storage(settings),
        payments=StripePayments.from_settings(settings),
        webhook_targets=build_target_policy(settings),
    )
