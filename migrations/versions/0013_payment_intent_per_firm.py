"""a completed PaymentIntent is unique per firm, not across firms (one firm could block another's webhook)

Revision ID: 0013_payment_intent_per_firm
Revises: 0005_billing
"""
from alembic import op
import sqlalchemy as sa

revision = '0013_payment_intent_per_firm'
down_revision = '0005_billing'
branch_labels = None
depends_on = None

WHERE = sa.text("status = 'completed' AND stripe_payment_intent_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index('uq_invoice_payments_completed_intent', table_name='invoice_payments', postgresql_where=WHERE)
    op.create_index('uq_invoice_payments_completed_intent', 'invoice_payments', ['firm_id', 'stripe_payment_intent_id'],
                    unique=True, postgresql_where=WHERE)


def downgrade() -> None:
    op.drop_index('uq_invoice_payments_completed_intent', table_name='invoice_payments', postgresql_where=WHERE)
    op.create_index('uq_invoice_payments_completed_intent', 'invoice_payments', ['stripe_payment_intent_id'],
                    unique=True, postgresql_where=WHERE)
