"""audit chain checks: the record of each scheduled verification against the anchors kept outside the database

Revision ID: 0016_audit_chain_checks
Revises: 0012_audit_chain
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0016_audit_chain_checks'
down_revision = '0012_audit_chain'
branch_labels = None
depends_on = None

APP_ROLE = "taxpractice_app"  # created by 0012_audit_chain


def upgrade() -> None:
    op.create_table('audit_chain_checks',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('firms', sa.Integer(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('anchor_key', sa.String(length=300), nullable=True),
    sa.Column('breaks', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_chain_checks'))
    )
    op.create_index('ix_audit_chain_checks_checked_at', 'audit_chain_checks', ['checked_at'], unique=False)
    # A recorded mismatch stays: the app adds and reads checks, never changes or removes one.
    op.execute(f"GRANT SELECT, INSERT ON audit_chain_checks TO {APP_ROLE}")
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON audit_chain_checks FROM {APP_ROLE}")


def downgrade() -> None:
    op.drop_index('ix_audit_chain_checks_checked_at', table_name='audit_chain_checks')
    op.drop_table('audit_chain_checks')
