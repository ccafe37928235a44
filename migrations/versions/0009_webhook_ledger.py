"""one ledger for inbound webhooks: inbound_webhooks replaces stripe_events and webhook_events (their rows
copied, payloads redacted), merging the documents and billing branches

Revision ID: 0009_webhook_ledger
Revises: 0004_documents, 0005_billing
"""
import uuid

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from domain.webhook.redaction import redact

revision = '0009_webhook_ledger'
down_revision = ('0004_documents', '0005_billing')
branch_labels = None
depends_on = None

_inbound = sa.table(
    'inbound_webhooks', sa.column('id', sa.UUID()), sa.column('source', sa.String()),
    sa.column('event_id', sa.String()), sa.column('event_type', sa.String()), sa.column('signature', sa.String()),
    sa.column('outcome', sa.String()), sa.column('reason', sa.String()), sa.column('firm_id', sa.UUID()),
    sa.column('entity_type', sa.String()), sa.column('entity_id', sa.UUID()),
    sa.column('occurred_at', sa.DateTime(timezone=True)), sa.column('payload', postgresql.JSONB()),
    sa.column('received_at', sa.DateTime(timezone=True)))


def upgrade() -> None:
    op.create_table('inbound_webhooks',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('event_id', sa.String(length=255), nullable=False),
    sa.Column('event_type', sa.String(length=100), nullable=False),
    sa.Column('signature', sa.String(length=30), nullable=False),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('firm_id', sa.UUID(), nullable=True),
    sa.Column('entity_type', sa.String(length=30), nullable=True),
    sa.Column('entity_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_webhooks')),
    sa.UniqueConstraint('source', 'event_id', name='uq_inbound_webhooks_source_event')
    )
    connection = op.get_bind()
    # Both old tables only ever held verified events (a bad signature was refused before anything was written).
    # Payloads go through the same redaction as new events: the old ledgers kept Stripe's client_secret and
    # SurePrep's extracted identifiers.
    documents = connection.execute(sa.text(
        "SELECT id, provider, event_id, event_type, outcome, reason, firm_id, occurred_at, payload, received_at "
        "FROM webhook_events")).mappings()
    _copy(connection, [dict(id=r['id'], source=r['provider'], event_id=r['event_id'], event_type=r['event_type'],
                            signature='hmac_sha256', outcome=r['outcome'], reason=r['reason'], firm_id=r['firm_id'],
                            entity_type=None, entity_id=None, occurred_at=r['occurred_at'],
                            payload=redact(r['payload']), received_at=r['received_at']) for r in documents])
    # A Stripe event's firm is its invoice's; stripe_events kept only the invoice.
    payments = connection.execute(sa.text(
        "SELECT e.id, e.type, e.outcome, e.invoice_id, i.firm_id, e.stripe_created_at, e.payload, e.received_at "
        "FROM stripe_events e LEFT JOIN invoices i ON i.id = e.invoice_id")).mappings()
    _copy(connection, [dict(id=uuid.uuid4(), source='stripe', event_id=r['id'], event_type=r['type'],
                            signature='stripe_sdk', outcome=r['outcome'], reason=None, firm_id=r['firm_id'],
                            entity_type='invoice' if r['invoice_id'] else None, entity_id=r['invoice_id'],
                            occurred_at=r['stripe_created_at'], payload=redact(r['payload']),
                            received_at=r['received_at']) for r in payments])
    op.drop_table('stripe_events')
    op.drop_table('webhook_events')


def _copy(connection, rows: list[dict]) -> None:
    if rows:
        connection.execute(_inbound.insert(), rows)


def downgrade() -> None:
    op.create_table('webhook_events',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('provider', 'event_id', name='uq_webhook_events_provider_event')
    )
    op.create_table('stripe_events',
    sa.Column('id', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=100), nullable=False),
    sa.Column('object_id', sa.String(length=255), nullable=True),
    sa.Column('invoice_id', sa.UUID(), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=False),
    sa.Column('stripe_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stripe_events'))
    )
    # Redacted payloads stay redacted: what was removed is gone.
    op.execute("""
        INSERT INTO webhook_events (id, provider, event_id, event_type, firm_id, occurred_at, outcome, reason,
                                    payload, received_at)
        SELECT id, source, left(event_id, 100), left(event_type, 60), firm_id, occurred_at, left(outcome, 20),
               reason, payload, received_at
        FROM inbound_webhooks WHERE source <> 'stripe'
    """)
    op.execute("""
        INSERT INTO stripe_events (id, type, object_id, invoice_id, outcome, stripe_created_at, payload, received_at)
        SELECT event_id, event_type, left(payload #>> '{data,object,id}', 255), entity_id, outcome, occurred_at,
               payload, received_at
        FROM inbound_webhooks WHERE source = 'stripe'
    """)
    op.drop_table('inbound_webhooks')
