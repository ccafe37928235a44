"""Migration 0011 deletes the idempotency records made before it (unkeyed hashes, bodies in clear: a 24 h cache,
not converted) and indexes created_at for the purge; its downgrade deletes the encrypted ones the older code
could not replay. On a database of its own on the suite's Postgres, so the shared schema is untouched."""

from __future__ import annotations

import hashlib

from alembic import command
from sqlalchemy import text

from tests.support import scratch_database

BEFORE = "0007_one_primary_contact"


def _insert(connection, key: str) -> None:
    connection.execute(text(
        "INSERT INTO idempotency_keys (principal, key, method, path, request_hash, status_code, response_body, "
        "response_headers) VALUES ('firm:user', :key, 'POST', '/v1/clients', :hash, 201, :body, '{}')"),
        dict(key=key, hash=hashlib.sha256(b"old").digest(), body=b'{"data": {"name": "In clear"}}'))


def _keys(connection) -> list:
    return connection.execute(text("SELECT key FROM idempotency_keys")).scalars().all()


def test_records_from_before_are_deleted_and_created_at_is_indexed(settings):
    with scratch_database(settings.database_url) as (engine, config):
        command.upgrade(config, BEFORE)
        with engine.begin() as connection:
            _insert(connection, "old-style")
        command.upgrade(config, "heads")
        with engine.begin() as connection:
            assert _keys(connection) == []
            assert connection.execute(text(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_idempotency_keys_created_at'")).scalar() == 1
            _insert(connection, "new-style")
        command.downgrade(config, BEFORE)
        with engine.begin() as connection:
            assert _keys(connection) == []
            assert connection.execute(text(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'ix_idempotency_keys_created_at'")).scalar() is None
