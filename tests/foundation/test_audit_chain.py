"""The audit log's own guard (issue 13, medium 7): the app acts as a database role that can only append to and
read the audit log and owns nothing, so it cannot switch the append-only trigger off; and each firm's rows form
a hash chain, so an edit or a removal made by someone who can (the owner) is found by `taxpractice audit verify`."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text
from sqlalchemy.exc import DBAPIError

from domain.audit.chain import GENESIS, verify_chain
from tests.foundation.conftest import sql

CLI = str(Path(sys.executable).parent / "taxpractice")


def _as_owner(tp, *statements: tuple[str, dict]) -> None:
    """What only the owner (the migrating user, DATABASE_URL's user without the app's role) can do: here, tamper."""
    engine = create_engine(tp.settings.database_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            for statement, params in statements:
                conn.execute(text(statement), params)
    finally:
        engine.dispose()


async def _tamper(tp, statement: str, **params) -> None:
    """Switch the append-only trigger off, change the log, switch it on again: one owner transaction."""
    await asyncio.to_thread(_as_owner, tp,
                            ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete", {}),
                            (statement, params),
                            ("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete", {}))


async def _verify(tp, *args: str) -> tuple[int, dict, str]:
    env = {**os.environ, "DATABASE_URL": tp.settings.database_url, "SSN_ENCRYPTION_KEY": tp.settings.ssn_encryption_key}
    process = await asyncio.create_subprocess_exec(CLI, "audit", "verify", "--json", *args, env=env,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode, json.loads(out.decode()), err.decode()


async def _chain(tp, firm) -> list[tuple]:
    return await sql(tp, "SELECT id, chain_seq, prev_hash, row_hash FROM audit_log WHERE firm_id = :f "
                         "ORDER BY chain_seq", f=firm)


@pytest.mark.parametrize("statement", [
    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
    "ALTER TABLE audit_log DISABLE TRIGGER ALL",
    "DROP TRIGGER audit_log_no_update_delete ON audit_log",
    "UPDATE audit_log SET action = 'nothing.happened' WHERE id = (SELECT max(id) FROM audit_log)",
    "DELETE FROM audit_log WHERE id = (SELECT max(id) FROM audit_log)",
    "TRUNCATE audit_log",
    "UPDATE audit_chain_heads SET chain_seq = 0",
])
async def test_the_apps_role_cannot_switch_the_audit_log_off_nor_change_it(tp, admin, statement):
    await tp.new_client(admin)
    async with tp.state.engine.connect() as conn:
        transaction = await conn.begin()
        try:
            assert (await conn.execute(text("SELECT current_user"))).scalar() == tp.settings.database_app_role
            with pytest.raises(DBAPIError, match="must be owner|permission denied|append-only"):
                await conn.execute(text(statement))
        finally:
            await transaction.rollback()


async def test_each_firms_rows_chain_to_the_previous_ones_hash(tp, admin, firm):
    for _ in range(3):
        await tp.new_client(admin)
    rows = await _chain(tp, firm)
    assert [row[1] for row in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 3
    assert bytes(rows[0][2]) == GENESIS
    for before, after in zip(rows, rows[1:]):
        assert bytes(after[2]) == bytes(before[3])
    assert len({bytes(row[3]) for row in rows}) == len(rows)
    # The hash is SHA-256 over the previous hash and the row's content: not something the app writes.
    assert all(len(bytes(row[3])) == hashlib.sha256().digest_size for row in rows)
    async with tp.state.sessionmaker() as session:
        report = await verify_chain(session, firm)
    assert report.intact and report.rows == len(rows)


async def test_parallel_requests_keep_one_unbroken_chain(tp, admin, firm):
    await asyncio.gather(*(tp.new_client(admin) for _ in range(12)))
    async with tp.state.sessionmaker() as session:
        report = await verify_chain(session, firm)
    assert report.intact, report.first_break
    assert [row[1] for row in await _chain(tp, firm)] == list(range(1, report.rows + 1))


async def test_verify_passes_then_names_an_edited_row(tp, admin, firm):
    for _ in range(3):
        await tp.new_client(admin)
    code, result, err = await _verify(tp, "--firm-id", str(firm))
    assert code == 0, err
    assert result["intact"] and result["rows"] >= 3 and result["first_break"] is None

    edited = (await _chain(tp, firm))[1]
    await _tamper(tp, "UPDATE audit_log SET action = 'client.nothing_to_see' WHERE id = :id", id=edited[0])
    code, result, err = await _verify(tp, "--firm-id", str(firm))
    assert code == 1 and not result["intact"]
    assert result["first_break"]["audit_id"] == edited[0] and result["first_break"]["chain_seq"] == 2
    assert "edited" in result["first_break"]["reason"]
    assert f"audit row {edited[0]}" in err
    # Every firm's chain (the default) finds it too.
    code, result, _ = await _verify(tp)
    assert code == 1 and result["first_break"]["audit_id"] == edited[0]


async def test_an_edit_that_recomputes_the_rows_hash_breaks_the_next_link(tp, admin, firm):
    for _ in range(3):
        await tp.new_client(admin)
    edited = (await _chain(tp, firm))[0]
    await _tamper(tp, "UPDATE audit_log SET action = 'x', row_hash = '\\x00'::bytea WHERE id = :id", id=edited[0])
    await _tamper(tp, "UPDATE audit_log SET row_hash = audit_log_row_hash(prev_hash, audit_log) WHERE id = :id",
                  id=edited[0])
    async with tp.state.sessionmaker() as session:
        broken = (await verify_chain(session, firm)).first_break
    assert broken is not None and broken.chain_seq == 2 and "link" in broken.reason


async def test_a_removed_row_and_a_removed_last_row_are_found(tp, admin, firm):
    for _ in range(4):
        await tp.new_client(admin)
    rows = await _chain(tp, firm)
    await _tamper(tp, "DELETE FROM audit_log WHERE id = :id", id=rows[1][0])
    code, result, _ = await _verify(tp, "--firm-id", str(firm))
    assert code == 1 and result["first_break"]["chain_seq"] == 2 and "missing" in result["first_break"]["reason"]
    assert f"audit row {rows[2][0]}" in result["first_break"]["reason"]

    other = await tp.new_firm()
    _, other_admin = await tp.staff_session(other, "admin")
    await tp.new_client(other_admin)
    last = (await _chain(tp, other))[-1]
    await _tamper(tp, "DELETE FROM audit_log WHERE id = :id", id=last[0])
    async with tp.state.sessionmaker() as session:
        broken = (await verify_chain(session, other)).first_break
    assert broken is not None and broken.chain_seq == last[1] and "head" in broken.reason


async def test_the_app_cannot_write_the_chain_itself(tp, admin, firm):
    """The trigger, not the caller, sets the chain: whatever an INSERT says, the row links where it must."""
    await tp.new_client(admin)
    await sql(tp, "INSERT INTO audit_log (firm_id, actor_role, action, resource_type, chain_seq, prev_hash, row_hash) "
                  "VALUES (:f, 'admin', 'forged.entry', 'client', 1, '\\x00'::bytea, '\\x00'::bytea)", f=firm)
    async with tp.state.sessionmaker() as session:
        assert (await verify_chain(session, firm)).intact
