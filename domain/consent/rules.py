"""§7216 rules: no disclosure of a client's return information to a third party without an active consent."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.consent.models import Consent


def _third_party_key(name: str) -> str:
    """'SurePrep LLC', 'sureprep' and 'SurePrep, LLC' name the same recipient."""
    lowered = "".join(ch for ch in name.lower() if ch.isalnum())
    for suffix in ("llc", "inc", "corp", "ltd"):
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            lowered = lowered[: -len(suffix)]
    return lowered


async def has_active_consent(session: AsyncSession, client_id: uuid.UUID, third_party: str,
                             now: datetime | None = None) -> bool:
    """A consent naming this third party that is signed, not revoked and not expired."""
    now = now or datetime.now(timezone.utc)
    rows = (await session.execute(
        select(Consent.third_party_name).where(
            Consent.client_id == client_id, Consent.status == "signed", Consent.signed_at.is_not(None),
            Consent.revoked_at.is_(None), or_(Consent.expires_at.is_(None), Consent.expires_at > now),
        )
    )).scalars().all()
    wanted = _third_party_key(third_party)
    return any(_third_party_key(name) == wanted for name in rows)



