"""outbound webhooks' retention: the indexes that let old events and their deliveries be deleted in batches

Revision ID: 0041_webhook_retention
Revises: 0036_outbound_webhooks
"""
import sqlalchemy as sa
from alembic import op

revision = '0041_webhook_retention'
down_revision = '0036_outbound_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The prune reads fanned-out events oldest first (domain/outbound_webhook/retention.py).
    op.create_index("ix_domain_events_fanned_out", "domain_events", ["occurred_at"],
                    postgresql_where=sa.text("fanned_out_at IS NOT NULL"))
    # An event's deliveries: the prune's "none pending" test and its delete, and the foreign key check when an
    # event row goes (without it, one scan of every delivery per event deleted).
    op.create_index("ix_webhook_deliveries_event", "webhook_deliveries", ["event_id"])
    # The self-referencing key's check when a delivery goes (a redelivery names the delivery it repeats).
    op.create_index("ix_webhook_deliveries_redelivery_of", "webhook_deliveries", ["redelivery_of"],
                    postgresql_where=sa.text("redelivery_of IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_redelivery_of", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_event", table_name="webhook_deliveries")
    op.drop_index("ix_domain_events_fanned_out", table_name="domain_events")
