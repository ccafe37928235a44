"""one transactional outbox for every entity's workflow messages and every mail, replacing tax_return_outbox

Revision ID: 0008_outbox
Revises: 0006_tax_return_outbox
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_outbox'
down_revision = '0006_tax_return_outbox'
branch_labels = None
depends_on = None

# The old table's kinds as the new registry names them (orchestration/outbox.py).
RETURN_KINDS = {'start': 'tax_return.start', 'return_changed': 'tax_return.changed',
                'analyze': 'tax_return.analyze', 'system_event': 'tax_return.system_event'}


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=60), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox'))
    )
    op.create_index('ix_outbox_created', 'outbox', ['created_at'], unique=False)
    op.create_index('ix_outbox_entity', 'outbox', ['entity_type', 'entity_id'], unique=False)
    # Messages not yet delivered move over: a return's own, and its estimated-payment schedule's (keyed by the
    # schedule now). Kinds no release knows keep their name and stay counted as failing, as before.
    for old, new in RETURN_KINDS.items():
        op.execute(sa.text(
            "INSERT INTO outbox (id, entity_type, entity_id, kind, payload, created_at, attempts, last_error) "
            "SELECT id, 'tax_return', return_id::text, :new, payload, created_at, attempts, last_error "
            "FROM tax_return_outbox WHERE kind = :old").bindparams(old=old, new=new))
    op.execute(
        "INSERT INTO outbox (id, entity_type, entity_id, kind, payload, created_at, attempts, last_error) "
        "SELECT id, 'estimated_payment_schedule', payload->>'schedule_id', 'estimated_payment_schedule.changed', "
        "payload, created_at, attempts, last_error FROM tax_return_outbox WHERE kind = 'schedule_changed'")
    op.execute(
        "INSERT INTO outbox (id, entity_type, entity_id, kind, payload, created_at, attempts, last_error) "
        "SELECT id, 'tax_return', return_id::text, kind, payload, created_at, attempts, last_error "
        "FROM tax_return_outbox WHERE kind NOT IN "
        "('start', 'return_changed', 'analyze', 'system_event', 'schedule_changed')")
    op.drop_index('ix_tax_return_outbox_created', table_name='tax_return_outbox')
    op.drop_table('tax_return_outbox')


def downgrade() -> None:
    """Back to the tax return's own outbox: a return's messages and its schedules' move back; messages about
    other entities (documents, invoices, audit exports, SmartVault imports, mails) have no place there and are
    dropped, as their workflows' relay is gone with this revision."""
    op.create_table('tax_return_outbox',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_tax_return_outbox_return_id_tax_returns'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_return_outbox'))
    )
    op.create_index('ix_tax_return_outbox_created', 'tax_return_outbox', ['created_at'], unique=False)
    for old, new in RETURN_KINDS.items():
        op.execute(sa.text(
            "INSERT INTO tax_return_outbox (id, return_id, kind, payload, created_at, attempts, last_error) "
            "SELECT o.id, r.id, :old, o.payload, o.created_at, o.attempts, o.last_error FROM outbox o "
            "JOIN tax_returns r ON r.id::text = o.entity_id WHERE o.kind = :new").bindparams(old=old, new=new))
    op.execute(
        "INSERT INTO tax_return_outbox (id, return_id, kind, payload, created_at, attempts, last_error) "
        "SELECT o.id, s.return_id, 'schedule_changed', o.payload, o.created_at, o.attempts, o.last_error "
        "FROM outbox o JOIN estimated_payment_schedules s ON s.id::text = o.entity_id "
        "WHERE o.kind = 'estimated_payment_schedule.changed'")
    op.drop_index('ix_outbox_entity', table_name='outbox')
    op.drop_index('ix_outbox_created', table_name='outbox')
    op.drop_table('outbox')
