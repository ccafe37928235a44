"""billing: invoices and their payments and history, Stripe events, estimated-payment schedules

Revision ID: 0005_billing
Revises: 0002_tax_returns
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005_billing'
down_revision = '0002_tax_returns'
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    op.create_table('estimated_payment_schedules',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('tax_year', sa.Integer(), nullable=False),
    sa.Column('federal_annual', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('state_annual', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('payment_method', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_estimated_payment_schedules_client_id_clients')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_estimated_payment_schedules_created_by_users')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_estimated_payment_schedules_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_estimated_payment_schedules_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimated_payment_schedules'))
    )
    op.create_index('uq_estimated_payment_schedules_live', 'estimated_payment_schedules', ['return_id', 'tax_year'], unique=True, postgresql_where=sa.text("status <> 'cancelled'"))
    op.create_table('invoices',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=True),
    sa.Column('invoice_number', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('line_items', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('tax', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('amount_paid', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('payment_link', sa.Text(), nullable=True),
    sa.Column('stripe_checkout_session_id', sa.String(length=255), nullable=True),
    sa.Column('created_by', sa.UUID(), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_invoices_client_id_clients')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_invoices_created_by_users')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_invoices_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_invoices_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('firm_id', 'invoice_number', name='uq_invoices_firm_invoice_number')
    )
    op.create_index('ix_invoices_client', 'invoices', ['client_id', 'created_at'], unique=False)
    op.create_index('ix_invoices_firm_created', 'invoices', ['firm_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_invoices_return', 'invoices', ['return_id'], unique=False)
    op.create_table('estimated_payments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('schedule_id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=False),
    sa.Column('quarter', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('federal_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('state_amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reminder_sent', sa.Boolean(), nullable=False),
    sa.Column('reminder_sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminder_type', sa.String(length=20), nullable=True),
    sa.Column('confirmation_number', sa.String(length=100), nullable=True),
    sa.Column('payment_date', sa.Date(), nullable=True),
    sa.Column('payment_method', sa.String(length=30), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_estimated_payments_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_estimated_payments_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_estimated_payments_return_id_tax_returns')),
    sa.ForeignKeyConstraint(['schedule_id'], ['estimated_payment_schedules.id'], name=op.f('fk_estimated_payments_schedule_id_estimated_payment_schedules')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimated_payments')),
    sa.UniqueConstraint('schedule_id', 'quarter', name='uq_estimated_payments_schedule_quarter')
    )
    op.create_index('ix_estimated_payments_return', 'estimated_payments', ['return_id', 'due_date'], unique=False)
    op.create_table('invoice_history',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('event', sa.String(length=30), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=True),
    sa.Column('to_status', sa.String(length=20), nullable=True),
    sa.Column('details', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_history_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_history'))
    )
    op.create_index('ix_invoice_history_invoice', 'invoice_history', ['invoice_id', 'occurred_at'], unique=False)
    op.create_index('uq_invoice_history_once', 'invoice_history', ['invoice_id', 'event'], unique=True, postgresql_where=sa.text("event IN ('sent', 'mailed', 'overdue', 'reminder_7', 'reminder_14', 'reminder_30', 'escalated', 'voided', 'paid')"))
    op.create_table('invoice_payments',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('invoice_id', sa.UUID(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('payment_method', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=255), nullable=True),
    sa.Column('stripe_event_id', sa.String(length=255), nullable=True),
    sa.Column('failure_message', sa.String(length=500), nullable=True),
    sa.Column('recorded_by', sa.UUID(), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_invoice_payments_firm_id_firms')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_payments_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_invoice_payments_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_payments'))
    )
    op.create_index('ix_invoice_payments_invoice', 'invoice_payments', ['invoice_id', 'created_at', 'id'], unique=False)
    op.create_index('uq_invoice_payments_completed_intent', 'invoice_payments', ['stripe_payment_intent_id'], unique=True, postgresql_where=sa.text("status = 'completed' AND stripe_payment_intent_id IS NOT NULL"))
    op.create_table('estimated_payment_reminders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('payment_id', sa.UUID(), nullable=False),
    sa.Column('reminder_type', sa.String(length=20), nullable=False),
    sa.Column('channels', sa.String(length=40), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['payment_id'], ['estimated_payments.id'], name=op.f('fk_estimated_payment_reminders_payment_id_estimated_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_estimated_payment_reminders'))
    )
    op.create_index(op.f('ix_estimated_payment_reminders_payment_id'), 'estimated_payment_reminders', ['payment_id'], unique=False)
    op.create_index('uq_estimated_payment_reminders_auto', 'estimated_payment_reminders', ['payment_id', 'reminder_type', 'scheduled_for'], unique=True, postgresql_where=sa.text('scheduled_for IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('uq_estimated_payment_reminders_auto', table_name='estimated_payment_reminders', postgresql_where=sa.text('scheduled_for IS NOT NULL'))
    op.drop_index(op.f('ix_estimated_payment_reminders_payment_id'), table_name='estimated_payment_reminders')
    op.drop_table('estimated_payment_reminders')
    op.drop_index('uq_invoice_payments_completed_intent', table_name='invoice_payments', postgresql_where=sa.text("status = 'completed' AND stripe_payment_intent_id IS NOT NULL"))
    op.drop_index('ix_invoice_payments_invoice', table_name='invoice_payments')
    op.drop_table('invoice_payments')
    op.drop_index('uq_invoice_history_once', table_name='invoice_history', postgresql_where=sa.text("event IN ('sent', 'mailed', 'overdue', 'reminder_7', 'reminder_14', 'reminder_30', 'escalated', 'voided', 'paid')"))
    op.drop_index('ix_invoice_history_invoice', table_name='invoice_history')
    op.drop_table('invoice_history')
    op.drop_index('ix_estimated_payments_return', table_name='estimated_payments')
    op.drop_table('estimated_payments')
    op.drop_index('ix_invoices_return', table_name='invoices')
    op.drop_index('ix_invoices_firm_created', table_name='invoices')
    op.drop_index('ix_invoices_client', table_name='invoices')
    op.drop_table('invoices')
    op.drop_index('uq_estimated_payment_schedules_live', table_name='estimated_payment_schedules', postgresql_where=sa.text("status <> 'cancelled'"))
    op.drop_table('estimated_payment_schedules')
    op.drop_table('stripe_events')
