"""Audit chains anchored outside the database and checked on a Temporal Schedule (domain/audit/anchor.py,
orchestration/audit_chain.py): a rewrite that recomputes every later row's hash and the chain head passes
`audit verify`, but not the check against the last anchor in the S3 store; the mismatch is recorded and shown to
the firm's admins only."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta

from domain.audit.anchor import ANCHOR_PREFIX
from domain.audit.chain import verify_chain
from orchestration.audit_chain import ensure_check_scheduled
from tests.foundation.conftest import assert_problem
from tests.foundation.test_audit_chain import _as_owner, _chain


async def _run_scheduled_check(tp) -> dict:
    """Trigger the schedule now and wait for its run's anchor: the run's last step."""
    before = await asyncio.to_thread(tp.state.storage.last_key, ANCHOR_PREFIX)
    handle = await ensure_check_scheduled(tp.temporal, timedelta(hours=1))
    await handle.trigger()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        key = await asyncio.to_thread(tp.state.storage.last_key, ANCHOR_PREFIX)
        if key is not None and key != before:
            return json.loads(await asyncio.to_thread(tp.state.storage.get_bytes, key))
        await asyncio.sleep(0.2)
    raise AssertionError("the scheduled audit-chain check wrote no anchor within 60 s")


def _rewrite_history(tp, firm: uuid.UUID, first_id: int) -> None:
    """What only the owner can do: edit the first row, then recompute every link, every hash and the head, so
    the chain holds again."""
    _as_owner(tp, ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete", {}),
              ("UPDATE audit_log SET action = 'client.nothing_to_see' WHERE id = :id", {"id": first_id}),
              (f"""DO $$ DECLARE r record; prev bytea := '\\x{"00" * 32}'::bytea; BEGIN
                  FOR r IN SELECT id FROM audit_log WHERE firm_id = '{firm}' ORDER BY chain_seq LOOP
                      UPDATE audit_log SET prev_hash = prev WHERE id = r.id;
                      UPDATE audit_log SET row_hash = audit_log_row_hash(prev_hash, audit_log) WHERE id = r.id
                          RETURNING row_hash INTO prev;
                  END LOOP;
                  UPDATE audit_chain_heads SET row_hash = prev WHERE firm_id = '{firm}';
              END $$""", {}),
              ("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete", {}))


async def test_a_rewritten_chain_that_verify_accepts_is_found_against_the_anchor(tp, admin, firm):
    for _ in range(3):
        await tp.new_client(admin)
    anchor = await _run_scheduled_check(tp)
    [head] = [h for h in anchor["heads"] if h["firm_id"] == str(firm)]
    rows = await _chain(tp, firm)
    assert head["chain_seq"] == rows[-1][1] and head["row_hash"] == bytes(rows[-1][3]).hex()
    checks = (await tp.http.get("/v1/admin/audit-chain/checks", headers=admin)).json()["data"]
    assert checks[0]["intact"] and checks[0]["chain_break"] is None

    await asyncio.to_thread(_rewrite_history, tp, firm, rows[0][0])
    async with tp.state.sessionmaker() as session:
        assert (await verify_chain(session, firm)).intact  # the chain alone cannot tell

    second = await _run_scheduled_check(tp)
    response = await tp.http.get("/v1/admin/audit-chain/checks", headers=admin, params={"limit": 1})
    assert response.status_code == 200, response.text
    [latest] = response.json()["data"]
    assert not latest["intact"] and latest["compared_with_anchor"]
    assert latest["chain_break"]["chain_seq"] == head["chain_seq"] and "anchor" in latest["chain_break"]["reason"]
    # The broken firm keeps its last good head in the new anchor; the check keeps finding the rewrite.
    assert [h for h in second["heads"] if h["firm_id"] == str(firm)] == [head]

    # Another firm's admin sees their own chain's state, not this firm's break.
    other = await tp.new_firm()
    _, other_admin = await tp.staff_session(other, "admin")
    [theirs] = (await tp.http.get("/v1/admin/audit-chain/checks", headers=other_admin,
                                  params={"limit": 1})).json()["data"]
    assert theirs["id"] == latest["id"] and theirs["intact"] and str(firm) not in json.dumps(theirs)


async def test_only_admins_read_the_checks(tp, firm):
    _, preparer = await tp.staff_session(firm, "preparer")
    assert_problem(await tp.http.get("/v1/admin/audit-chain/checks", headers=preparer), 403)
    _, admin = await tp.staff_session(firm, "admin")
    assert_problem(await tp.http.get("/v1/admin/audit-chain/checks", headers=admin, params={"limit": 0}), 400)
