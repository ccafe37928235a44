"""lifecycle history: one history table every lifecycle entity writes, (entity type, entity id) instead of a
table per entity; the tax return's workflow_history rows move into it

Revision ID: 0010_lifecycle_history
Revises: 0003_tax_return_workflow
"""
from alembic import op
import sqlalchemy as sa

revision = '0010_lifecycle_history'
down_revision = '0003_tax_return_workflow'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lifecycle_history',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('entity_type', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.UUID(), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=False),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('actor_id', sa.UUID(), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_lifecycle_history_firm_id_firms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lifecycle_history'))
    )
    op.create_index('ix_lifecycle_history_entity_time', 'lifecycle_history', ['entity_type', 'entity_id', 'at', 'id'],
                    unique=False)
    # The ids stay: they are the transition ids the workflows generated, which keep a retried write single.
    op.execute("""
        INSERT INTO lifecycle_history (id, firm_id, entity_type, entity_id, from_status, to_status, action,
                                       actor_id, actor_role, source, at, note)
        SELECT id, firm_id, 'tax_return', return_id, from_status, to_status, action,
               transitioned_by, actor_role, source, transitioned_at, notes
        FROM workflow_history
    """)
    op.drop_index('ix_workflow_history_return_time', table_name='workflow_history')
    op.drop_table('workflow_history')


def downgrade() -> None:
    op.create_table('workflow_history',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=False),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('transitioned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('transitioned_by', sa.UUID(), nullable=True),
    sa.Column('actor_role', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_workflow_history_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_workflow_history_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_history'))
    )
    op.create_index('ix_workflow_history_return_time', 'workflow_history', ['return_id', 'transitioned_at', 'id'],
                    unique=False)
    op.execute("""
        INSERT INTO workflow_history (id, firm_id, return_id, action, from_status, to_status, transitioned_at,
                                      transitioned_by, actor_role, source, notes)
        SELECT id, firm_id, entity_id, action, from_status, to_status, at, actor_id, actor_role, source, note
        FROM lifecycle_history WHERE entity_type = 'tax_return'
    """)
    op.drop_index('ix_lifecycle_history_entity_time', table_name='lifecycle_history')
    op.drop_table('lifecycle_history')
