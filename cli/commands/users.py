"""`taxpractice users create|list|deactivate`: staff users, straight in Postgres (the first admin exists before
anyone can sign in to the API)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Optional

import typer
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from cli.common import JSON_OPTION, emit, emit_rows, fail, field_cipher, run, with_session
from domain.context import ServiceContext
from domain.firm.models import DEFAULT_FIRM_ID, Firm
from domain.roles import STAFF_ROLES
from domain.user.models import User
from domain.user.service import create_user, revoke_sessions_of

ROLES = sorted(r.value for r in STAFF_ROLES)
FIRM_OPTION = typer.Option(None, "--firm-id", help="default: the firm created by the first migration")
users = typer.Typer(help="staff users", no_args_is_help=True)


def _mailable_email(value: str) -> str:
    """The rule every email of a request body follows (api/schemas/base.py), so the first admin is mailable too."""
    from api.schemas.base import MailableEmail

    try:
        return TypeAdapter(MailableEmail).validate_python(value)
    except ValidationError as error:
        raise typer.BadParameter(error.errors()[0]["msg"]) from None


def _role(value: str) -> str:
    if value not in ROLES:
        raise typer.BadParameter(f"one of {', '.join(ROLES)}")
    return value


def _firm(firm_id: Optional[str]) -> uuid.UUID:
    try:
        return uuid.UUID(firm_id) if firm_id else DEFAULT_FIRM_ID
    except ValueError:
        raise typer.BadParameter("not a UUID", param_hint="--firm-id") from None


@users.command("create")
def create(email: str = typer.Option(..., callback=_mailable_email), role: str = typer.Option(..., callback=_role,
           help=" | ".join(ROLES)), password: str = typer.Option(..., help="at least 12 characters"),
           full_name: Optional[str] = None, ptin: Optional[str] = None, firm_id: Optional[str] = FIRM_OPTION,
           as_json: bool = JSON_OPTION) -> None:
    """Create a staff user with a password and a TOTP secret (shown once: enrol it in an authenticator app)."""
    from domain.auth import totp

    firm = _firm(firm_id)

    async def work(session):
        if await session.get(Firm, firm) is None:
            fail(f"no firm with id {firm}")
        user, secret = await create_user(session, firm, email, full_name or email.split("@")[0], role,
                                         field_cipher(), ptin=ptin, password=password)
        await ServiceContext.for_system(session, firm, "operator_cli").audit(
            "user.create", "user", user.id, details={"role": role})
        return {"id": str(user.id), "email": user.email, "role": user.role, "totp_secret": secret,
                "otpauth_uri": totp.provisioning_uri(secret, user.email)}

    emit(run(with_session(work)), as_json)


@users.command("list")
def list_(firm_id: Optional[str] = FIRM_OPTION, include_inactive: bool = False,
          as_json: bool = JSON_OPTION) -> None:
    """A firm's staff users."""
    firm = _firm(firm_id)

    async def work(session):
        query = select(User).where(User.firm_id == firm).order_by(User.role, User.email)
        if not include_inactive:
            query = query.where(User.is_active.is_(True))
        return [{"id": str(u.id), "email": u.email, "full_name": u.full_name, "role": u.role,
                 "active": u.is_active, "mfa_enrolled": u.password_hash is not None}
                for u in (await session.execute(query)).scalars()]

    emit_rows(f"Staff of firm {firm}", ["email", "role", "full_name", "active", "mfa_enrolled", "id"],
              run(with_session(work, begin=False)), as_json)


@users.command("deactivate")
def deactivate(email: str = typer.Option(..., help="the user's email"), as_json: bool = JSON_OPTION) -> None:
    """Deactivate a user at once: every session of theirs is revoked (as the admin API does)."""
    async def work(session):
        user = (await session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()
        if user is None:
            fail(f"no user with email {email}")
        if user.is_active:
            user.is_active = False
            user.deactivated_at = datetime.now(timezone.utc)
            await revoke_sessions_of(session, user.id, "user_deactivated")
            await ServiceContext.for_system(session, user.firm_id, "operator_cli").audit(
                "user.deactivate", "user", user.id)
        return {"id": str(user.id), "email": user.email, "active": user.is_active}

    emit(run(with_session(work)), as_json)


def register(root: typer.Typer) -> None:
    root.add_typer(users, name="users")
