"""Migration 0009_webhook_ledger on a database holding both old ledgers: every row lands in inbound_webhooks with
its outcome, firm and entity, its payload redacted, and the old tables are gone; the downgrade brings them back."""

import asyncio
import json
import uuid

from alembic import command
from sqlalchemy import create_engine, inspect, text

from domain.firm.models import DEFAULT_FIRM_ID
from migrations.runner import alembic_config
from tests.support import scratch_database

OLD_ROWS = """
INSERT INTO clients (id, firm_id, account_number, client_type, name, status, identity_verification_status)
VALUES (:client, :firm, 'MIG-0001', 'individual', 'Pat Migrated', 'active', 'pending');
INSERT INTO invoices (id, firm_id, client_id, invoice_number, status, line_items, amount, tax, total, amount_paid)
VALUES (:invoice, :firm, :client, 'INV-MIG-1', 'paid', '[]', 450, 0, 450, 450);
INSERT INTO stripe_events (id, type, object_id, invoice_id, outcome, stripe_created_at, payload, received_at)
VALUES ('evt_paid', 'payment_intent.succeeded', 'pi_1', :invoice, 'payment_recorded', '2026-01-02T03:04:05Z',
        :stripe_payload, '2026-01-02T03:04:06Z'),
       ('evt_other', 'customer.created', 'cus_1', NULL, 'ignored_type', NULL, '{"data": {"object": {}}}',
        '2026-01-02T03:04:07Z');
INSERT INTO webhook_events (id, provider, event_id, event_type, firm_id, occurred_at, outcome, reason, payload,
                            received_at)
VALUES (:document_event, 'sureprep', 'evt_sp', 'extraction.ready', :firm, '2026-01-03T00:00:00Z', 'rejected',
        'unknown document for this binder', :sureprep_payload, '2026-01-03T00:00:01Z');
"""


def _migrate_a_database_with_old_ledgers(url: str) -> dict:
    config = alembic_config(url)
    command.upgrade(config, "0004_documents")
    command.upgrade(config, "0005_billing")
    engine = create_engine(url)
    ids = {"client": uuid.uuid4(), "invoice": uuid.uuid4(), "document_event": uuid.uuid4(), "firm": DEFAULT_FIRM_ID}
    with engine.begin() as connection:
        for statement in filter(str.strip, OLD_ROWS.split(";")):
            connection.execute(text(statement), {**ids, "stripe_payload": json.dumps(
                {"data": {"object": {"id": "pi_1", "client_secret": "pi_1_secret_x"}}}),
                "sureprep_payload": json.dumps({"data": {"fields": [{"label": "SSN", "value": "123-45-6789"}]}})})
    command.upgrade(config, "0009_webhook_ledger")
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT source, event_id, event_type, signature, outcome, reason, firm_id, entity_type, entity_id, "
            "occurred_at IS NOT NULL AS dated, payload FROM inbound_webhooks ORDER BY event_id")).mappings().all()
        tables_after_upgrade = set(inspect(connection).get_table_names())
    command.downgrade(config, "0004_documents")  # only 0009 sits above both parents: 0005 stays
    with engine.connect() as connection:
        tables_after_downgrade = set(inspect(connection).get_table_names())
        restored = connection.execute(text(
            "SELECT (SELECT count(*) FROM stripe_events), (SELECT count(*) FROM webhook_events)")).one()
    engine.dispose()
    return {"ids": ids, "rows": [dict(r) for r in rows], "after_upgrade": tables_after_upgrade,
            "after_downgrade": tables_after_downgrade, "restored": tuple(restored)}


def _with_scratch_database(url: str, work):
    """`work` on an empty database of its own, dropped afterwards (the suite's database is at head already)."""
    with scratch_database(url) as (engine, config):
        return work(engine.url.render_as_string(hide_password=False))


async def test_the_old_ledgers_rows_move_into_inbound_webhooks(tp):
    result = await asyncio.to_thread(_with_scratch_database, tp.settings.database_url,
                                     _migrate_a_database_with_old_ledgers)
    ids = result["ids"]
    assert "inbound_webhooks" in result["after_upgrade"]
    assert not {"stripe_events", "webhook_events"} & result["after_upgrade"]
    rows = {r["event_id"]: r for r in result["rows"]}
    assert set(rows) == {"evt_paid", "evt_other", "evt_sp"}
    paid, other, sureprep = rows["evt_paid"], rows["evt_other"], rows["evt_sp"]
    assert (paid["source"], paid["signature"], paid["outcome"], paid["firm_id"], paid["entity_type"],
            paid["entity_id"], paid["dated"]) == ("stripe", "stripe_sdk", "payment_recorded", ids["firm"], "invoice",
                                                  ids["invoice"], True)
    assert paid["payload"]["data"]["object"] == {"id": "pi_1", "client_secret": "[redacted]"}
    assert (other["outcome"], other["firm_id"], other["entity_type"], other["dated"]) == (
        "ignored_type", None, None, False)
    assert (sureprep["source"], sureprep["signature"], sureprep["outcome"], sureprep["reason"],
            sureprep["firm_id"]) == ("sureprep", "hmac_sha256", "rejected", "unknown document for this binder",
                                     ids["firm"])
    assert sureprep["payload"]["data"]["fields"] == [{"label": "SSN", "value": "[redacted]"}]
    assert {"stripe_events", "webhook_events"} <= result["after_downgrade"]
    assert "inbound_webhooks" not in result["after_downgrade"] and result["restored"] == (2, 1)
