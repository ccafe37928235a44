"""Read and change a firm's security configuration (spec §14.2)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from domain import policy
from domain.config.models import SystemConfig
from domain.context import ServiceContext

CONFIG_FIELDS = ("session_timeout_minutes", "mfa_required", "failed_login_lockout_attempts",
                 "engagement_required_before_prep")


async def load_config(session: AsyncSession, firm_id: uuid.UUID) -> SystemConfig:
    config = await session.get(SystemConfig, firm_id)
    if config is None:  # a firm created after the first migration gets the defaults on first use
        config = SystemConfig(firm_id=firm_id, session_timeout_minutes=30, mfa_required=True,
                              failed_login_lockout_attempts=5, engagement_required_before_prep=False)
        session.add(config)
        await session.flush()
    return config


async def get_config(ctx: ServiceContext) -> SystemConfig:
    policy.require(ctx.principal, "admin.config")
    return await load_config(ctx.session, ctx.principal.firm_id)


async def update_config(ctx: ServiceContext, changes: dict) -> SystemConfig:
    policy.require(ctx.principal, "admin.config")
    config = await load_config(ctx.session, ctx.principal.firm_id)
    before = {name: getattr(config, name) for name in changes}
    for name, value in changes.items():
        setattr(config, name, value)
    config.updated_by = ctx.principal.subject_id
    await ctx.session.flush()
    await ctx.audit("config.update", "system_config", ctx.principal.firm_id,
                    details={"before": before, "after": changes})
    return config
