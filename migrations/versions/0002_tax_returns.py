"""tax_returns: the return record that documents, invoices and estimated payments hang on

Revision ID: 0002_tax_returns
Revises: 0001_foundation
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0002_tax_returns'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tax_returns',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('tax_year', sa.Integer(), nullable=False),
    sa.Column('return_type', sa.String(length=10), nullable=False),
    sa.Column('filing_status', sa.String(length=30), nullable=True),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('status_entered_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('assigned_preparer_id', sa.UUID(), nullable=True),
    sa.Column('assigned_reviewer_id', sa.UUID(), nullable=True),
    sa.Column('extension_filed', sa.Boolean(), nullable=False),
    sa.Column('extension_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('estimated_refund', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('estimated_tax_due', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('federal_status', sa.String(length=30), nullable=False),
    sa.Column('state_filings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('stuck_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_preparer_id'], ['users.id'], name=op.f('fk_tax_returns_assigned_preparer_id_users')),
    sa.ForeignKeyConstraint(['assigned_reviewer_id'], ['users.id'], name=op.f('fk_tax_returns_assigned_reviewer_id_users')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_tax_returns_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_tax_returns_firm_id_firms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_returns'))
    )
    op.create_index('ix_tax_returns_client', 'tax_returns', ['client_id', 'tax_year'], unique=False)
    op.create_index('ix_tax_returns_firm_created', 'tax_returns', ['firm_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_tax_returns_firm_preparer', 'tax_returns', ['firm_id', 'assigned_preparer_id'], unique=False)
    op.create_index('ix_tax_returns_firm_status', 'tax_returns', ['firm_id', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_tax_returns_firm_status', table_name='tax_returns')
    op.drop_index('ix_tax_returns_firm_preparer', table_name='tax_returns')
    op.drop_index('ix_tax_returns_firm_created', table_name='tax_returns')
    op.drop_index('ix_tax_returns_client', table_name='tax_returns')
    op.drop_table('tax_returns')
