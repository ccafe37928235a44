"""tax return outbox: signals for a return's workflow, written with the change they report

Revision ID: 0006_tax_return_outbox
Revises: 0003_tax_return_workflow
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0006_tax_return_outbox'
down_revision = '0003_tax_return_workflow'
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_index('ix_tax_return_outbox_created', table_name='tax_return_outbox')
    op.drop_table('tax_return_outbox')
