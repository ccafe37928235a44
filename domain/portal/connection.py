"""Portal connections: create (under a signed portal-import consent, after signing in and reading the linked
accounts), read, pause, resume, delete. The schedule and in-flight syncs follow the row through the outbox
(orchestration/portal.py); this module writes rows, audit and the disclosure log only."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime, timezone
from urllib.parse import urlsplit

from sqlalchemy import select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client, readable_clients
from domain.consent.models import Consent
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose
from domain.errors import BusinessRuleViolation, Conflict, FieldError, NotFound, ValidationFailed
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.portal.accounts import map_accounts
from domain.portal.models import CONNECTION_STATUSES, PortalAccount, PortalConnection, PortalSync
from domain.portal.session import sealed_state, seal
from integrations import portal_models as pm
from integrations.portal import SessionState
from integrations.providers import ClientPortal, ProviderRejected, ProviderUnavailable

SURFACES = pm.SURFACES
# Five cron fields, each numbers, ranges, steps, lists or "*" (Temporal reads the schedule's cron expression).
_CRON_FIELD = re.compile(r"^(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*$")


def check_schedule(cron: str) -> str:
    parts = cron.split()
    if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
        raise ValidationFailed(errors=[FieldError("schedule", "invalid_format",
                                                  "a cron expression of five fields, e.g. '0 3 * * *'")])
    return " ".join(parts)


def check_base_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and parts.hostname and not parts.query and not parts.fragment
        parts.port  # noqa: B018 (a port out of range raises here, not in the first request)
    except ValueError:  # an unreadable address ("http://[x/") or port
        usable = False
    if not usable:
        raise ValidationFailed(errors=[FieldError("base_url", "invalid_format", "an http(s) URL of the portal")])
    return url.rstrip("/")


async def check_consent(ctx: ServiceContext, consent_id: uuid.UUID, client_id: uuid.UUID) -> Consent:
    """A consent of kind `disclosure` for this client, with purpose `portal_import`, signed, not revoked, not
    expired: the one a connection names. (Each pull is still decided by the gate, which may find it revoked.)"""
    consent = await ctx.session.get(Consent, consent_id)
    now = datetime.now(timezone.utc)

    def refuse(code: str, message: str):
        return BusinessRuleViolation(f"consent_id: {message}", [FieldError("consent_id", code, message)],
                                     code="consent_invalid")

    if consent is None or consent.firm_id != ctx.principal.firm_id or consent.client_id != client_id:
        raise refuse("not_found", "no consent of this client has this id")
    if consent.kind != "disclosure" or consent.purpose != DisclosurePurpose.PORTAL_IMPORT.value:
        raise refuse("wrong_purpose", "the consent is not a disclosure consent for portal_import")
    if consent.revoked_at is not None or consent.status == "revoked":
        raise refuse("consent_revoked", "the consent was revoked")
    if consent.status not in ("signed",) or consent.signed_at is None:
        raise refuse("consent_not_signed", "the consent is not signed")
    if consent.expires_at is not None and consent.expires_at <= now:
        raise refuse("consent_expired", "the consent has expired")
    return consent


def check_regions(accounts: list[pm.Account], data_region: str) -> None:
    foreign = sorted({a.region for a in accounts if a.region != data_region})
    if foreign:
        raise BusinessRuleViolation(
            f"The portal's accounts are in region {', '.join(foreign)}; this firm's data region is {data_region}",
            [FieldError("base_url", "region_mismatch", f"accounts outside {data_region}")], code="region_mismatch")


def portal_refusal(exc: ProviderRejected | ProviderUnavailable) -> BusinessRuleViolation:
    """The portal refused the sign-in or answered off-protocol: a 422 naming the field to fix."""
    code = getattr(exc, "code", None)
    field = {"invalid_credentials": "password", "invalid_otp": "totp_secret",
             "mfa_required": "totp_secret"}.get(code or "", "base_url")
    return BusinessRuleViolation(f"The portal refused: {exc.message}",
                                 [FieldError(field, code or "portal_refused", exc.message)], code="portal_refused")


async def create_connection(ctx: ServiceContext, data: dict, cipher: FieldCipher, portal: ClientPortal,
                            data_region: str, default_schedule: str, sessionmaker) -> PortalConnection:
    """Checks everything that can be checked before a request leaves (role, client, consent, surfaces, schedule),
    logs the disclosure decision in its own committed transaction (it happened, whatever follows), signs in and
    reads the linked accounts, then writes the connection, its accounts and the audit row in the caller's."""
    policy.require(ctx.principal, "portal.connect")
    client = await load_visible_client(ctx, data["client_id"])
    consent = await check_consent(ctx, data["consent_id"], client.id)
    surfaces = list(dict.fromkeys(data.get("surfaces") or SURFACES))
    schedule = check_schedule(data.get("schedule") or default_schedule)
    base_url = check_base_url(data["base_url"])
    connection = PortalConnection(
        id=uuid.uuid4(), firm_id=ctx.principal.firm_id, client_id=client.id, consent_id=consent.id,
        base_url=base_url, recipient=consent.third_party_name, device_id=f"taxpractice-{secrets.token_hex(6)}",
        surfaces=surfaces, schedule=schedule, status="active", created_by=ctx.principal.subject_id)
    connection.email_encrypted = seal(cipher, connection.id, data["email"])
    connection.password_encrypted = seal(cipher, connection.id, data["password"])
    connection.totp_secret_encrypted = seal(cipher, connection.id, data["totp_secret"]) if data.get("totp_secret") \
        else None
    async with sessionmaker.begin() as log_session:
        decision = await gate.authorize(ServiceContext.for_system(log_session, ctx.principal.firm_id, "portal_connect"),
                                        gate.Disclosure(client.id, consent.third_party_name,
                                                        DisclosurePurpose.PORTAL_IMPORT, "portal.accounts"))
    if not decision.allowed:
        raise BusinessRuleViolation(f"The disclosure gate refused: {decision.refusal_reason}",
                                    [FieldError("consent_id", decision.refusal_reason or "no_consent",
                                                "the consent does not cover this portal")], code="consent_invalid")
    state = SessionState()
    try:
        async with portal.open(base_url=base_url, email=data["email"], password=data["password"],
                               totp_secret=data.get("totp_secret"), device_id=connection.device_id,
                               state=state) as session:
            accounts = (await session.accounts()).items
    except (ProviderRejected, ProviderUnavailable) as exc:
        raise portal_refusal(exc) from None
    check_regions(accounts, data_region)
    connection.session_encrypted = sealed_state(cipher, connection.id, state)
    ctx.session.add(connection)
    await ctx.session.flush()
    await map_accounts(ctx, connection, accounts, cipher)
    await ctx.audit("portal_connection.create", "portal_connection", connection.id, client_id=client.id,
                    details={"base_url": base_url, "consent_id": str(consent.id), "surfaces": surfaces,
                             "schedule": schedule, "accounts": [a.id for a in accounts]})
    return connection


def visible_connections(ctx: ServiceContext):
    clients = readable_clients(ctx).with_only_columns(Client.id)
    return select(PortalConnection).where(PortalConnection.firm_id == ctx.principal.firm_id,
                                          PortalConnection.deleted_at.is_(None),
                                          PortalConnection.client_id.in_(clients))


async def load_connection(ctx: ServiceContext, connection_id: uuid.UUID, action: str = "portal.read",
                          lock: bool = False) -> PortalConnection:
    policy.require(ctx.principal, action)
    stmt = visible_connections(ctx).where(PortalConnection.id == connection_id)
    if lock:
        stmt = stmt.with_for_update()
    connection = (await ctx.session.execute(stmt)).scalar_one_or_none()
    if connection is None:
        raise NotFound("Portal connection")
    return connection


# GET /v1/portal-connections, a spec §3 list: newest first; filters client_id and status.
CONNECTION_FIELDS = frozenset({"id", "client_id", "consent_id", "base_url", "recipient", "surfaces", "schedule",
                               "status", "accounts", "last_sync", "next_run_at", "created_at", "updated_at"})
LIST_SPEC = ListSpec(
    filters={"client_id": Filterable(PortalConnection.client_id, uuid.UUID),
             "status": Filterable(PortalConnection.status, choices=frozenset(CONNECTION_STATUSES)),
             "created_at": Filterable(PortalConnection.created_at, datetime, ("gte", "lte"))},
    sortable={"created_at": PortalConnection.created_at}, id_column=PortalConnection.id,
    default_sort="-created_at", output_fields=CONNECTION_FIELDS)


async def list_connections(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, "portal.read")
    return await paginate(ctx.session, visible_connections(ctx), query, LIST_SPEC)


async def accounts_of(session, connection_id: uuid.UUID) -> list[PortalAccount]:
    return list((await session.execute(select(PortalAccount).where(PortalAccount.connection_id == connection_id)
                                       .order_by(PortalAccount.created_at, PortalAccount.portal_account_id))).scalars())


async def running_sync(session, connection_id: uuid.UUID) -> PortalSync | None:
    return (await session.execute(select(PortalSync).where(PortalSync.connection_id == connection_id,
                                                           PortalSync.status == "running")
                                  .order_by(PortalSync.started_at.desc()).limit(1))).scalar_one_or_none()


async def set_status(ctx: ServiceContext, connection_id: uuid.UUID, status: str) -> PortalConnection:
    """Pause or resume. Pausing stops the schedule and the sync in flight (its next request is refused by the
    check in domain/portal/session.py, and the workflow is cancelled)."""
    connection = await load_connection(ctx, connection_id, "portal.connect", lock=True)
    if status == "active" and connection.status == "active":
        raise Conflict("The connection is active already")
    if status == "paused" and connection.status == "paused":
        raise Conflict("The connection is paused already")
    previous, connection.status = connection.status, status
    connection.updated_at = datetime.now(timezone.utc)
    await ctx.audit(f"portal_connection.{'pause' if status == 'paused' else 'resume'}", "portal_connection",
                    connection.id, client_id=connection.client_id, details={"from": previous})
    return connection


async def delete_connection(ctx: ServiceContext, connection_id: uuid.UUID) -> PortalConnection:
    """Soft-deleted: what it imported stays (retention, docs/portal/retention.md); its secrets and session are
    erased at once, so nothing can sign in with them any more."""
    connection = await load_connection(ctx, connection_id, "portal.connect", lock=True)
    now = datetime.now(timezone.utc)
    connection.deleted_at = connection.updated_at = now
    connection.status = "paused"
    connection.password_encrypted = connection.email_encrypted = b""
    connection.totp_secret_encrypted = connection.session_encrypted = None
    await ctx.audit("portal_connection.delete", "portal_connection", connection.id, client_id=connection.client_id)
    return connection


async def start_sync(ctx: ServiceContext, connection_id: uuid.UUID, trigger: str,
                     action: str = "portal.connect") -> PortalSync:
    """A sync row for a manual run (staff through the API, or the operator's CLI as the system actor, `action`
    portal.sync): refused while the connection is paused or another sync runs."""
    connection = await load_connection(ctx, connection_id, action, lock=True)
    if connection.status == "paused":
        raise Conflict("The connection is paused; resume it first")
    if await running_sync(ctx.session, connection.id) is not None:
        raise Conflict("A sync of this connection is running")
    sync = PortalSync(id=uuid.uuid4(), firm_id=connection.firm_id, connection_id=connection.id, trigger=trigger,
                      status="running", results=[], requests_made=0)
    ctx.session.add(sync)
    await ctx.session.flush()
    await ctx.audit("portal_sync.request", "portal_connection", connection.id, client_id=connection.client_id,
                    details={"sync_id": str(sync.id), "trigger": trigger})
    return sync


async def load_sync(ctx: ServiceContext, connection_id: uuid.UUID, sync_id: uuid.UUID) -> PortalSync:
    connection = await load_connection(ctx, connection_id)
    sync = await ctx.session.get(PortalSync, sync_id)
    if sync is None or sync.connection_id != connection.id:
        raise NotFound("Portal sync")
    return sync
