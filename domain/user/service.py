"""Staff users: creation (CLI or admin invitation), updates, deactivation that takes effect at once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import policy
from domain.auth import totp
from domain.auth.models import AuthSession
from domain.auth.passwords import MIN_PASSWORD_LENGTH, hash_password
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.errors import Conflict, FieldError, NotFound, ValidationFailed
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.roles import STAFF_ROLES, Role
from domain.user.models import User

USER_LIST_SPEC = ListSpec(
    filters={
        "role": Filterable(User.role, choices=frozenset(r.value for r in STAFF_ROLES)),
        "is_active": Filterable(User.is_active, bool, ("eq",)),
        "email": Filterable(User.email),
    },
    sortable={"created_at": User.created_at, "email": User.email, "full_name": User.full_name},
    id_column=User.id,
    default_sort="created_at",
    output_fields=frozenset({"id", "email", "full_name", "role", "ptin", "is_active", "created_at", "updated_at",
                             "mfa_enrolled"}),
)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(errors=[FieldError(
            "password", "too_short", f"Password must be at least {MIN_PASSWORD_LENGTH} characters")])


async def firm_decider_emails(session: AsyncSession, firm_id: uuid.UUID) -> list[str]:
    """Whom the firm's money decisions go to (an invoice escalated, a refund owed): active admins and EA/CPAs."""
    return list((await session.execute(select(User.email).where(
        User.firm_id == firm_id, User.is_active.is_(True),
        User.role.in_([Role.ADMIN.value, Role.EA_CPA.value])).order_by(User.email))).scalars())


async def email_taken(session: AsyncSession, email: str) -> bool:
    found = await session.execute(select(User.id).where(func.lower(User.email) == email.lower()))
    return found.first() is not None


async def create_user(session: AsyncSession, firm_id: uuid.UUID, email: str, full_name: str, role: str,
                      cipher: FieldCipher, ptin: str | None = None, password: str | None = None) -> tuple[User, str]:
    """Create a staff user with a fresh TOTP secret; returns the user and the secret (shown once)."""
    if await email_taken(session, email):
        raise Conflict("A user with this email already exists",
                       [FieldError("email", "duplicate", "email is already registered")])
    if password is not None:
        check_password_strength(password)
    secret = totp.new_secret()
    # argon2 is slow by design: hashed off the event loop.
    password_hash = await asyncio.to_thread(hash_password, password) if password else None
    user_id = uuid.uuid4()
    user = User(
        id=user_id, firm_id=firm_id, email=email.lower(), full_name=full_name, role=role, ptin=ptin,
        password_hash=password_hash,
        totp_secret_encrypted=totp.seal_secret(cipher, user_id, secret),
        is_active=True, failed_login_count=0,
    )
    session.add(user)
    await session.flush()
    return user, secret


async def list_users(ctx: ServiceContext, query: ListQuery) -> Page:
    policy.require(ctx.principal, "admin.users")
    return await paginate(ctx.session, select(User).where(User.firm_id == ctx.principal.firm_id), query,
                          USER_LIST_SPEC)


async def get_user(ctx: ServiceContext, user_id: uuid.UUID) -> User:
    policy.require(ctx.principal, "admin.users")
    user = await ctx.session.get(User, user_id)
    if user is None or user.firm_id != ctx.principal.firm_id:
        raise NotFound("User")
    return user


async def update_user(ctx: ServiceContext, user_id: uuid.UUID, changes: dict) -> User:
    user = await get_user(ctx, user_id)
    if "email" in changes and changes["email"].lower() != user.email and await email_taken(ctx.session,
                                                                                         changes["email"]):
        raise Conflict("A user with this email already exists",
                       [FieldError("email", "duplicate", "email is already registered")])
    for name, value in changes.items():
        setattr(user, name, value.lower() if name == "email" else value)
    if "role" in changes:
        # A role change must not leave tokens carrying the old role alive.
        await revoke_sessions_of(ctx.session, user.id, "role_changed")
    await ctx.session.flush()
    await ctx.audit("user.update", "user", user.id, details={"fields": sorted(changes)})
    return user


async def revoke_sessions_of(session: AsyncSession, user_id: uuid.UUID, reason: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=func.now(), revoked_reason=reason)
    )


async def deactivate_user(ctx: ServiceContext, user_id: uuid.UUID) -> User:
    user = await get_user(ctx, user_id)
    if user.id == ctx.principal.subject_id:
        raise Conflict("You cannot deactivate yourself")
    user.is_active = False
    user.deactivated_at = datetime.now(timezone.utc)
    await revoke_sessions_of(ctx.session, user.id, "user_deactivated")
    await ctx.session.flush()
    await ctx.audit("user.deactivate", "user", user.id)
    return user
