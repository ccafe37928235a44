"""tax return workflow: history, notes, reminders, analyses, questions, messages

Revision ID: 0003_tax_return_workflow
Revises: 0002_tax_returns
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003_tax_return_workflow'
down_revision = '0002_tax_returns'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ai_analyses',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('analysis_type', sa.String(length=30), nullable=False),
    sa.Column('include_prior_year_comparison', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('analyzer', sa.String(length=40), nullable=True),
    sa.Column('findings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('suggested_questions', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('requested_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_ai_analyses_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_ai_analyses_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ai_analyses'))
    )
    op.create_index('ix_ai_analyses_return', 'ai_analyses', ['return_id', 'created_at'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=True),
    sa.Column('direction', sa.String(length=10), nullable=False),
    sa.Column('sender_type', sa.String(length=10), nullable=False),
    sa.Column('sender_id', sa.UUID(), nullable=False),
    sa.Column('sender_name', sa.String(length=200), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_messages_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_messages_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_messages_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    op.create_index('ix_messages_client_created', 'messages', ['client_id', 'created_at', 'id'], unique=False)
    op.create_table('preparer_notes',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('document_id', sa.UUID(), nullable=True),
    sa.Column('note_text', sa.Text(), nullable=False),
    sa.Column('author_id', sa.UUID(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_preparer_notes_author_id_users')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_preparer_notes_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_preparer_notes'))
    )
    op.create_index('ix_preparer_notes_return', 'preparer_notes', ['return_id', 'created_at'], unique=False)
    op.create_table('tax_return_reminders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('recipient_id', sa.UUID(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_tax_return_reminders_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_return_reminders')),
    sa.UniqueConstraint('return_id', 'deadline', 'days_before', name='uq_tax_return_reminders_key')
    )
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
    op.create_index('ix_workflow_history_return_time', 'workflow_history', ['return_id', 'transitioned_at', 'id'], unique=False)
    op.create_table('questions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('question_text', sa.Text(), nullable=False),
    sa.Column('context', sa.Text(), nullable=True),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('analysis_id', sa.UUID(), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('answer_text', sa.Text(), nullable=True),
    sa.Column('answer_attachments', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('skip_reason', sa.Text(), nullable=True),
    sa.Column('skipped_by', sa.UUID(), nullable=True),
    sa.Column('skipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['analysis_id'], ['ai_analyses.id'], name=op.f('fk_questions_analysis_id_ai_analyses')),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_questions_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_questions_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_questions_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions'))
    )
    op.create_index('ix_questions_return_status', 'questions', ['return_id', 'status', 'created_at', 'id'], unique=False)
    op.create_index('ix_tax_returns_firm_stuck', 'tax_returns', ['firm_id', 'stuck_since'], unique=False, postgresql_where=sa.text('stuck_since IS NOT NULL'))
    op.create_index('uq_tax_returns_client_year_type', 'tax_returns', ['client_id', 'tax_year', 'return_type'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_tax_returns_client_year_type', table_name='tax_returns', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index('ix_tax_returns_firm_stuck', table_name='tax_returns', postgresql_where=sa.text('stuck_since IS NOT NULL'))
    op.drop_index('ix_questions_return_status', table_name='questions')
    op.drop_table('questions')
    op.drop_index('ix_workflow_history_return_time', table_name='workflow_history')
    op.drop_table('workflow_history')
    op.drop_table('tax_return_reminders')
    op.drop_index('ix_preparer_notes_return', table_name='preparer_notes')
    op.drop_table('preparer_notes')
    op.drop_index('ix_messages_client_created', table_name='messages')
    op.drop_table('messages')
    op.drop_index('ix_ai_analyses_return', table_name='ai_analyses')
    op.drop_table('ai_analyses')
