"""Anchoring the audit chains outside the database, and the scheduled check against the anchors.

The chain (domain/audit/chain.py) finds an edit or a removal, but someone who can write the database as its
owner could rewrite a row and every row after it, and the chain head, and the chain would hold again. So each
scheduled check (AuditChainCheckWorkflow, orchestration/audit_chain.py) ends by writing every firm's chain head
(position and hash) to the S3 store, one object per anchor under `audit-anchors/`, which the database's owner
cannot change (in production: a bucket, or prefix, under S3 Object Lock; docs/security.md). The next check walks
every chain and also asks: does the row at each anchored position still carry the anchored hash? A rewrite of
anything up to the last anchor is found there, whatever was recomputed.

Each check is recorded (`audit_chain_checks`, which the app may only add to and read) with every firm's break,
logged as an error when there is one, and shown to each firm's admins (GET /v1/admin/audit-chain/checks). A
broken firm's head is never anchored: the anchors keep its last state known good, while the others' move on.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audit.chain import ChainBreak, verify_every_firm
from domain.audit.models import AuditChainCheck

log = logging.getLogger("taxpractice.audit")

ANCHOR_PREFIX = "audit-anchors/"
ANCHOR_CONTENT_TYPE = "application/json"


def anchor_key(at: datetime) -> str:
    """Keys sort by time, so the last anchor is the greatest key under the prefix."""
    return f"{ANCHOR_PREFIX}{at.astimezone(timezone.utc):%Y%m%dT%H%M%S%fZ}.json"


async def anchor_document(session: AsyncSession, at: datetime, broken_firms: set[str],
                          previous: bytes | None) -> bytes:
    """Every firm's chain head as it is now; a firm whose chain is broken keeps the head the previous anchor
    recorded for it (its last state known good), so one broken firm does not stop the others' anchoring."""
    heads = (await session.execute(text(
        "SELECT firm_id, chain_seq, row_hash FROM audit_chain_heads ORDER BY firm_id"))).all()
    kept = [] if previous is None else [h for h in json.loads(previous)["heads"] if h["firm_id"] in broken_firms]
    return json.dumps({"anchored_at": at.isoformat(), "heads": kept + [
        {"firm_id": str(firm), "chain_seq": seq, "row_hash": bytes(row_hash).hex()}
        for firm, seq, row_hash in heads if str(firm) not in broken_firms]}).encode()


async def _anchor_breaks(session: AsyncSession, anchor: bytes, key: str) -> list[ChainBreak]:
    """Firms whose row at an anchored position is gone or carries another hash than the anchor recorded."""
    document = json.loads(anchor)
    breaks = []
    for head in document["heads"]:
        firm_id, seq = uuid.UUID(head["firm_id"]), head["chain_seq"]
        row = (await session.execute(text(
            "SELECT id, row_hash FROM audit_log WHERE firm_id = :firm AND chain_seq = :seq"),
            {"firm": firm_id, "seq": seq})).first()
        if row is None or bytes(row[1]).hex() != head["row_hash"]:
            breaks.append(ChainBreak(
                firm_id, seq, None if row is None else row[0],
                f"does not match the anchor {key} of {document['anchored_at']} (the chain was rewritten up to "
                f"there, or its rows removed)"))
    return breaks


async def check_chains(session: AsyncSession, anchor: bytes | None, key: str | None) -> AuditChainCheck:
    """Walk every firm's chain and compare it with the last anchor (None: none written yet); record the check."""
    rows, firms, breaks = await verify_every_firm(session)
    if anchor is not None:
        broken = {b.firm_id for b in breaks}
        breaks += [b for b in await _anchor_breaks(session, anchor, key) if b.firm_id not in broken]
    check = AuditChainCheck(id=uuid.uuid4(), firms=firms, rows=rows, anchor_key=key, breaks=[
        {"firm_id": str(b.firm_id), "chain_seq": b.chain_seq, "audit_id": b.audit_id, "reason": b.reason}
        for b in breaks])
    session.add(check)
    for b in breaks:
        log.error("audit chain broken: %s", b.describe())
    return check


async def checks_for_firm(session: AsyncSession, firm_id: uuid.UUID,
                          limit: int) -> list[tuple[AuditChainCheck, dict | None]]:
    """The latest checks, newest first, each with this firm's break (None: its chain held). Another firm's
    break is not this firm's business."""
    checks = (await session.execute(
        select(AuditChainCheck).order_by(AuditChainCheck.checked_at.desc()).limit(limit))).scalars()
    return [(check, next((b for b in check.breaks if b["firm_id"] == str(firm_id)), None)) for check in checks]
