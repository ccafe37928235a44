"""rate-limit counters shared by every API process (UNLOGGED: nothing to recover after a crash)

Revision ID: 0014_rate_limit_windows
Revises: 0001_foundation
"""
from alembic import op
import sqlalchemy as sa

revision = '0014_rate_limit_windows'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rate_limit_windows',
    sa.Column('bucket', sa.String(length=200), nullable=False),
    sa.Column('window_start', sa.BigInteger(), nullable=False),
    sa.Column('hits', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('bucket', 'window_start', name=op.f('pk_rate_limit_windows')),
    prefixes=['UNLOGGED'])


def downgrade() -> None:
    op.drop_table('rate_limit_windows')
