"""Migration 0021 adds signature requests, engagements, the consent's signing columns and the firm's intake
setting on top of the gate's 0020, and its downgrade removes them again. On a database of its own."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from tests.support import scratch_database


def test_upgrade_and_downgrade(settings):
    with scratch_database(settings.database_url) as (engine, config):
        command.upgrade(config, "heads")
        tables = set(inspect(engine).get_table_names())
        assert {"signature_requests", "engagements"} <= tables
        consent_columns = {c["name"] for c in inspect(engine).get_columns("consents")}
        assert {"information_covered", "requested_expires_at", "template_version", "revoked_by"} <= consent_columns
        command.downgrade(config, "0021_esign_engagements@-1")
        inspector = inspect(engine)
        assert not {"signature_requests", "engagements"} & set(inspector.get_table_names())
        assert "template_version" not in {c["name"] for c in inspector.get_columns("consents")}
        assert "engagement_required_before_prep" not in {c["name"] for c in inspector.get_columns("system_config")}
        command.upgrade(config, "heads")
