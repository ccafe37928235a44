"""Migration 0010 moves the tax return's workflow_history rows into lifecycle_history, ids kept (they are the
transition ids that keep a retried write single), and its downgrade moves them back. On a database of its
own on the suite's Postgres, so the shared schema is untouched."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from alembic import command
from sqlalchemy import text

from tests.support import scratch_database

BEFORE = "0003_tax_return_workflow"


def test_workflow_history_rows_move_to_lifecycle_history_and_back(settings):
    with scratch_database(settings.database_url) as (engine, config):
        command.upgrade(config, BEFORE)
        firm, return_id, actor = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        at = datetime(2026, 3, 2, 15, 30, tzinfo=timezone.utc)
        rows = [(uuid.uuid4(), "mark_ready_for_prep", "intake", "ready_for_prep", actor, "preparer", "api", "paper"),
                (uuid.uuid4(), "escalate", "ready_for_prep", "needs_review", None, "system", "stuck_timer", None)]
        client_id = uuid.uuid4()
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO firms (id, name) VALUES (:id, 'Migrated firm')"), dict(id=firm))
            connection.execute(text(
                "INSERT INTO clients (id, firm_id, account_number, client_type, name, status, "
                "identity_verification_status) VALUES (:id, :firm, 'A-1', 'individual', 'C', 'active', 'pending')"),
                dict(id=client_id, firm=firm))
            connection.execute(text(
                "INSERT INTO tax_returns (id, firm_id, client_id, tax_year, return_type, status, extension_filed, "
                "due_date, priority, federal_status, state_filings) VALUES (:id, :firm, :client, 2025, '1040', "
                "'needs_review', false, '2026-04-15', 'normal', 'not_started', '[]')"),
                dict(id=return_id, firm=firm, client=client_id))
            for id_, action, from_, to, by, role, source, notes in rows:
                connection.execute(text(
                    "INSERT INTO workflow_history (id, firm_id, return_id, action, from_status, to_status, "
                    "transitioned_at, transitioned_by, actor_role, source, notes) "
                    "VALUES (:id, :firm, :rid, :action, :from_, :to, :at, :by, :role, :source, :notes)"),
                    dict(id=id_, firm=firm, rid=return_id, action=action, from_=from_, to=to, at=at, by=by,
                         role=role, source=source, notes=notes))

        command.upgrade(config, "heads")
        with engine.connect() as connection:
            moved = connection.execute(text(
                "SELECT id, action, from_status, to_status, actor_id, actor_role, source, note, entity_type, "
                "entity_id, firm_id, at FROM lifecycle_history ORDER BY at, action DESC")).all()
            assert connection.execute(text("SELECT to_regclass('workflow_history')")).scalar() is None
        assert [tuple(r[:8]) for r in moved] == rows
        assert {(r.entity_type, r.entity_id, r.firm_id, r.at) for r in moved} == {("tax_return", return_id, firm, at)}

        command.downgrade(config, BEFORE)
        with engine.connect() as connection:
            back = connection.execute(text(
                "SELECT id, action, from_status, to_status, transitioned_by, actor_role, source, notes "
                "FROM workflow_history ORDER BY transitioned_at, action DESC")).all()
            assert connection.execute(text("SELECT to_regclass('lifecycle_history')")).scalar() is None
        assert [tuple(r) for r in back] == rows
