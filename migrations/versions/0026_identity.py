"""identity verifications and their one-time codes (issue 16, spec §12)

Revision ID: 0026_identity
Revises: 0001_foundation
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0026_identity'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def _uuid(name, **kw):
    return sa.Column(name, postgresql.UUID(as_uuid=True), **kw)


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     **({} if nullable else {"server_default": sa.text("now()")}))


def upgrade() -> None:
    op.create_table(
        'identity_verifications',
        _uuid('id', nullable=False), _uuid('firm_id', nullable=False), _uuid('client_id', nullable=False),
        sa.Column('tier', sa.SmallInteger(), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('steps', postgresql.JSONB(), nullable=False),
        sa.Column('confidence_score', sa.Numeric(4, 3)),
        sa.Column('persona_inquiry_id', sa.String(64)),
        sa.Column('persona_inquiry_url', sa.String(500)),
        _ts('persona_expires_at'),
        _uuid('video_session_id'), _ts('video_scheduled_time'),
        sa.Column('video_meet_link', sa.String(200)),
        _uuid('reviewed_by'), sa.Column('review_notes', sa.Text()),
        _ts('expires_at', nullable=False), _ts('completed_at'), _uuid('created_by'),
        _ts('created_at', nullable=False), _ts('updated_at', nullable=False),
        sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_identity_verifications_firm_id_firms')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'],
                                name=op.f('fk_identity_verifications_client_id_clients')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_verifications')),
        sa.UniqueConstraint('persona_inquiry_id', name=op.f('uq_identity_verifications_persona_inquiry_id')),
    )
    op.create_index('ix_identity_verifications_client', 'identity_verifications', ['client_id', 'created_at'])
    op.create_table(
        'identity_verification_codes',
        _uuid('id', nullable=False), _uuid('verification_id', nullable=False),
        sa.Column('channel', sa.String(10), nullable=False),
        sa.Column('delivery', sa.String(10), nullable=False),
        sa.Column('code_encrypted', sa.LargeBinary(), nullable=False),
        sa.Column('wrong_tries', sa.Integer(), nullable=False),
        _ts('expires_at', nullable=False), _ts('used_at'), _ts('sent_at'), _ts('created_at', nullable=False),
        sa.ForeignKeyConstraint(['verification_id'], ['identity_verifications.id'],
                                name=op.f('fk_identity_verification_codes_verification_id_identity_verifications')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_verification_codes')),
    )
    op.create_index('ix_identity_verification_codes_sent', 'identity_verification_codes',
                    ['verification_id', 'channel', 'created_at'])


def downgrade() -> None:
    op.drop_table('identity_verification_codes')
    op.drop_table('identity_verifications')
