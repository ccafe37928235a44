"""Verify the audit log's hash chain (migrations/versions/0012_audit_chain.py): each firm's rows, in chain order,
must number 1, 2, 3 … with no gap, each must link to the hash of the one before it (the first to 32 zero bytes),
each row's hash must be what its content gives, and the last must be the firm's recorded chain head. An edited
row fails its own hash; a removed row leaves a gap; a removed last row leaves the head pointing past the end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

GENESIS = bytes(32)
BATCH = 5000


@dataclass(frozen=True)
class ChainBreak:
    firm_id: uuid.UUID
    chain_seq: int
    audit_id: int | None  # the row where the chain breaks; None when the row itself is gone
    reason: str

    def describe(self) -> str:
        row = f"audit row {self.audit_id}" if self.audit_id is not None else "a missing row"
        return f"firm {self.firm_id}, chain position {self.chain_seq} ({row}): {self.reason}"


@dataclass(frozen=True)
class ChainReport:
    rows: int
    firms: int
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


async def _firms(session: AsyncSession, firm_id: uuid.UUID | None) -> list[tuple[uuid.UUID, int, bytes]]:
    """Each firm's recorded head, and a firm with rows but no head (its head row removed) with a head of 0."""
    rows = await session.execute(text(
        "SELECT f.firm_id, coalesce(h.chain_seq, 0), coalesce(h.row_hash, :genesis) FROM "
        "(SELECT firm_id FROM audit_chain_heads UNION SELECT DISTINCT firm_id FROM audit_log) f "
        "LEFT JOIN audit_chain_heads h ON h.firm_id = f.firm_id "
        "WHERE CAST(:firm AS uuid) IS NULL OR f.firm_id = CAST(:firm AS uuid) ORDER BY f.firm_id"),
        {"genesis": GENESIS, "firm": str(firm_id) if firm_id else None})
    return [(row[0], row[1], bytes(row[2])) for row in rows]


async def _verify_firm(session: AsyncSession, firm_id: uuid.UUID, head_seq: int,
                       head_hash: bytes) -> tuple[int, ChainBreak | None]:
    expected_seq, prev, count, after = 1, GENESIS, 0, 0
    while True:
        # Keyset pages in chain order; the expected hash is recomputed by the same function the insert trigger
        # uses, over the row as it is now.
        rows = (await session.execute(text(
            "SELECT a.id, a.chain_seq, a.prev_hash, a.row_hash, audit_log_row_hash(a.prev_hash, a) AS recomputed "
            "FROM audit_log a WHERE a.firm_id = :firm AND a.chain_seq > :after ORDER BY a.chain_seq LIMIT :n"),
            {"firm": firm_id, "after": after, "n": BATCH})).all()
        for audit_id, seq, prev_hash, row_hash, recomputed in rows:
            count += 1
            if seq != expected_seq:
                return count, ChainBreak(firm_id, expected_seq, None,
                                         f"chain positions {expected_seq}..{seq - 1} are missing (rows removed); "
                                         f"the next present is audit row {audit_id}")
            if bytes(prev_hash) != prev:
                return count, ChainBreak(firm_id, seq, audit_id,
                                         "does not link to the previous row's hash (a row before it was "
                                         "replaced or the chain rewritten)")
            if bytes(recomputed) != bytes(row_hash):
                return count, ChainBreak(firm_id, seq, audit_id, "its content does not match its hash (edited)")
            prev, expected_seq, after = bytes(row_hash), seq + 1, seq
        if len(rows) < BATCH:
            break
    if head_seq != expected_seq - 1 or (head_seq and head_hash != prev):
        return count, ChainBreak(firm_id, expected_seq, None,
                                 f"the chain head records position {head_seq}, the rows end at "
                                 f"{expected_seq - 1} (last rows removed, or the head rewritten)")
    return count, None


async def verify_chain(session: AsyncSession, firm_id: uuid.UUID | None = None) -> ChainReport:
    """Walk every firm's chain (or one firm's) and report the first break, if any."""
    total, firms = 0, await _firms(session, firm_id)
    for firm, head_seq, head_hash in firms:
        count, broken = await _verify_firm(session, firm, head_seq, head_hash)
        total += count
        if broken is not None:
            return ChainReport(total, len(firms), broken)
    return ChainReport(total, len(firms), None)


async def verify_every_firm(session: AsyncSession) -> tuple[int, int, list[ChainBreak]]:
    """Every firm's chain, each to its first break: (rows, firms, breaks), for the scheduled check, which names
    every broken firm rather than stopping at the first."""
    total, breaks, firms = 0, [], await _firms(session, None)
    for firm, head_seq, head_hash in firms:
        count, broken = await _verify_firm(session, firm, head_seq, head_hash)
        total += count
        if broken is not None:
            breaks.append(broken)
    return total, len(firms), breaks
