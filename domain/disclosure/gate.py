"""The gate (IRC §7216, Treas. Reg. §301.7216-2 and -3): may this return information go to this recipient for this
purpose, now? Every path by which return information leaves for a third party calls `authorize` first, in the
transaction that decides to send, and sends only when the decision allows. The decision is logged either way.

It allows only on a basis:
- a consent of kind `disclosure` for this client that names the recipient and covers the purpose, signed, not
  revoked, not past its `expires_at` (checked against the clock here, not only by the consent's workflow timer:
  a disclosure a second after expiry is refused even if the timer has not fired yet), and for the tax year when
  the information belongs to one; or
- a regulatory exception the caller names (basis.RegulatoryException), for disclosures the regulations permit
  without consent, such as e-filing the return.

Consent is checked per disclosure, not per job: work in flight that relies on a consent revoked meanwhile is
refused at its next disclosure.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from domain.consent.models import Consent
from domain.context import ServiceContext
from domain.disclosure.basis import DisclosurePurpose, RegulatoryException
from domain.disclosure.models import DisclosureLogEntry


@dataclass(frozen=True)
class Disclosure:
    """What is about to leave, described without its contents."""

    client_id: uuid.UUID
    recipient: str  # as a consent names it ("SurePrep LLC"); matched by recipient_key
    purpose: DisclosurePurpose
    information: str  # "document", "portal.invoices", "efile.federal"
    tax_year: int | None = None  # the return information's year, when it has one
    entity_type: str | None = None
    entity_id: uuid.UUID | None = None
    exception: RegulatoryException | None = None  # a permitted disclosure that needs no consent


@dataclass(frozen=True)
class Decision:
    allowed: bool
    basis: str  # consent | exception | none
    log_id: uuid.UUID
    consent_id: uuid.UUID | None = None
    refusal_reason: str | None = None


def recipient_key(name: str) -> str:
    """'SurePrep LLC', 'sureprep' and 'SurePrep, LLC' name the same recipient."""
    lowered = "".join(ch for ch in name.lower() if ch.isalnum())
    for suffix in ("llc", "inc", "corp", "ltd"):
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            lowered = lowered[: -len(suffix)]
    return lowered


# A refusal names the nearest miss, so staff see what to fix: the order is from "almost there" to "nothing".
_REFUSAL_ORDER = ("consent_expired", "consent_revoked", "consent_not_signed", "no_consent")


def _standing(consent: Consent, now: datetime) -> str | None:
    """None when the consent is in force now; else why not."""
    if consent.revoked_at is not None or consent.status == "revoked":
        return "consent_revoked"
    if consent.status not in ("signed", "expired") or consent.signed_at is None:
        return "consent_not_signed"
    if consent.status == "expired" or (consent.expires_at is not None and consent.expires_at <= now):
        return "consent_expired"
    return None


async def authorize(ctx: ServiceContext, disclosure: Disclosure, now: datetime | None = None) -> Decision:
    """Decide, write the disclosure log row in the caller's transaction, and answer. The caller commits in both
    cases (a refusal is a record too) and sends only when `allowed`."""
    now = now or datetime.now(timezone.utc)
    if disclosure.exception is not None:
        decision = dict(allowed=True, basis="exception", consent_id=None, refusal_reason=None)
    else:
        decision = await _by_consent(ctx, disclosure, now)
    entry = DisclosureLogEntry(
        id=uuid.uuid4(), firm_id=ctx.principal.firm_id, client_id=disclosure.client_id,
        recipient=disclosure.recipient, purpose=disclosure.purpose.value, information=disclosure.information,
        tax_year=disclosure.tax_year, entity_type=disclosure.entity_type, entity_id=disclosure.entity_id,
        regulatory_exception=disclosure.exception.value if disclosure.exception else None,
        actor_id=None if ctx.is_system else ctx.principal.subject_id, actor_role=ctx.principal.role.value,
        system_source=ctx.source, occurred_at=now, **decision)
    ctx.session.add(entry)
    return Decision(log_id=entry.id, **decision)


async def _by_consent(ctx: ServiceContext, disclosure: Disclosure, now: datetime) -> dict:
    stmt = select(Consent).where(
        Consent.firm_id == ctx.principal.firm_id, Consent.client_id == disclosure.client_id,
        Consent.kind == "disclosure", Consent.purpose == disclosure.purpose.value)
    if disclosure.tax_year is not None:
        stmt = stmt.where(Consent.tax_year == disclosure.tax_year)
    wanted = recipient_key(disclosure.recipient)
    candidates = [c for c in (await ctx.session.execute(stmt)).scalars()
                  if recipient_key(c.third_party_name) == wanted]
    misses = []
    for consent in sorted(candidates, key=lambda c: (c.signed_at or c.created_at), reverse=True):
        reason = _standing(consent, now)
        if reason is None:
            return dict(allowed=True, basis="consent", consent_id=consent.id, refusal_reason=None)
        misses.append(reason)
    reason = min(misses, key=_REFUSAL_ORDER.index) if misses else "no_consent"
    return dict(allowed=False, basis="none", consent_id=None, refusal_reason=reason)
