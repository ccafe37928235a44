"""e-file transmissions, their acknowledgements and rejections (issue 16, spec §11)

Revision ID: 0025_efile
Revises: 0002_tax_returns
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0025_efile'
down_revision = '0002_tax_returns'  # efile_transmissions.return_id references tax_returns
branch_labels = None
depends_on = None


def _uuid(name, **kw):
    return sa.Column(name, postgresql.UUID(as_uuid=True), **kw)


def _ts(name, nullable=True):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     **({} if nullable else {"server_default": sa.text("now()")}))


def upgrade() -> None:
    # The 7-character part of Submission IDs: a sequence, not a row-locked counter, so concurrent transmits do not
    # queue on one row (domain/efile/service.py).
    op.execute("CREATE SEQUENCE efile_submission_sequence")
    op.create_table(
        'efile_transmissions',
        _uuid('id', nullable=False),
        _uuid('firm_id', nullable=False),
        _uuid('client_id', nullable=False),
        _uuid('return_id', nullable=False),
        sa.Column('jurisdiction', sa.String(10), nullable=False),
        sa.Column('transmission_type', sa.String(20), nullable=False),
        sa.Column('submission_id', sa.String(20), nullable=False),
        sa.Column('status', sa.String(20), nullable=False),
        _uuid('federal_transmission_id'),
        _uuid('previous_transmission_id'),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('figures', postgresql.JSONB(), nullable=False),
        sa.Column('notes', sa.Text()),
        _ts('transmitted_at'), _ts('acknowledged_at'),
        sa.Column('confirmation_number', sa.String(40)),
        sa.Column('acceptance_date', sa.Date()),
        sa.Column('filing_date', sa.Date()),
        sa.Column('filing_date_kept', sa.Boolean(), nullable=False),
        sa.Column('perfection_deadline', sa.Date()),
        _ts('perfection_warned_at'),
        sa.Column('paper_filing_required', sa.Boolean(), nullable=False),
        _ts('escalated_at'), _ts('resolved_at'), _ts('client_notified_at'),
        _uuid('created_by'),
        _ts('created_at', nullable=False), _ts('updated_at', nullable=False),
        sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_efile_transmissions_firm_id_firms')),
        sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_efile_transmissions_client_id_clients')),
        sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'],
                                name=op.f('fk_efile_transmissions_return_id_tax_returns')),
        sa.ForeignKeyConstraint(['federal_transmission_id'], ['efile_transmissions.id'],
                                name=op.f('fk_efile_transmissions_federal_transmission_id_efile_transmissions')),
        sa.ForeignKeyConstraint(['previous_transmission_id'], ['efile_transmissions.id'],
                                name=op.f('fk_efile_transmissions_previous_transmission_id_efile_transmissions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_efile_transmissions')),
        sa.UniqueConstraint('submission_id', name=op.f('uq_efile_transmissions_submission_id')),
    )
    op.create_index('ix_efile_transmissions_return', 'efile_transmissions', ['return_id', 'created_at'])
    op.create_index('uq_efile_transmissions_live', 'efile_transmissions', ['return_id', 'jurisdiction'], unique=True,
                    postgresql_where=sa.text("status IN ('pending', 'transmitting', 'transmitted')"))
    op.create_table(
        'efile_acknowledgements',
        _uuid('id', nullable=False),
        _uuid('transmission_id', nullable=False),
        sa.Column('submission_id', sa.String(20), nullable=False),
        sa.Column('ack_type', sa.String(20), nullable=False),
        sa.Column('confirmation_number', sa.String(40)),
        sa.Column('acceptance_date', sa.Date()),
        sa.Column('received_via', sa.String(10), nullable=False),
        _ts('received_at', nullable=False),
        sa.ForeignKeyConstraint(['transmission_id'], ['efile_transmissions.id'],
                                name=op.f('fk_efile_acknowledgements_transmission_id_efile_transmissions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_efile_acknowledgements')),
        sa.UniqueConstraint('submission_id', name='uq_efile_acknowledgements_submission'),
    )
    op.create_index(op.f('ix_efile_acknowledgements_transmission_id'), 'efile_acknowledgements', ['transmission_id'])
    op.create_table(
        'efile_rejections',
        _uuid('id', nullable=False),
        _uuid('transmission_id', nullable=False),
        sa.Column('submission_id', sa.String(20), nullable=False),
        sa.Column('error_code', sa.String(30), nullable=False),
        sa.Column('category', sa.String(30), nullable=False),
        sa.Column('severity', sa.String(30), nullable=False),
        sa.Column('description', sa.String(500), nullable=False),
        sa.Column('data_value', sa.String(200)),
        sa.Column('resolution_guidance', sa.String(500), nullable=False),
        sa.Column('auto_correctable', sa.Boolean(), nullable=False),
        _ts('created_at', nullable=False),
        sa.ForeignKeyConstraint(['transmission_id'], ['efile_transmissions.id'],
                                name=op.f('fk_efile_rejections_transmission_id_efile_transmissions')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_efile_rejections')),
        sa.UniqueConstraint('submission_id', 'error_code', name='uq_efile_rejections_submission_code'),
    )
    op.create_index(op.f('ix_efile_rejections_transmission_id'), 'efile_rejections', ['transmission_id'])


def downgrade() -> None:
    op.drop_table('efile_rejections')
    op.drop_table('efile_acknowledgements')
    op.drop_table('efile_transmissions')
    op.execute("DROP SEQUENCE efile_submission_sequence")
