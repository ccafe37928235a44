"""outbound webhooks: endpoints, one delivery per (endpoint, event), every attempt

Revision ID: 0036_outbound_webhooks
Revises: 0035_domain_events, 0020_disclosure_gate
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = '0036_outbound_webhooks'
# After the domain events it delivers and the consents' purposes (0020) a full-payload endpoint names.
down_revision = ('0035_domain_events', '0020_disclosure_gate')
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("firm_id", UUID(as_uuid=True), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("events", sa.ARRAY(sa.String(60)), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.String(40)),
        sa.Column("secret_ciphertext", sa.LargeBinary, nullable=False),
        sa.Column("previous_secret_ciphertext", sa.LargeBinary),
        sa.Column("previous_secret_until", sa.DateTime(timezone=True)),
        sa.Column("payload", sa.String(10), nullable=False),
        sa.Column("consent_id", UUID(as_uuid=True), sa.ForeignKey("consents.id")),
        sa.Column("recipient", sa.String(200)),
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_webhook_endpoints_firm", "webhook_endpoints", ["firm_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("firm_id", UUID(as_uuid=True), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("endpoint_id", UUID(as_uuid=True), sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), sa.ForeignKey("domain_events.id"), nullable=False),
        sa.Column("event_type", sa.String(60), nullable=False),
        sa.Column("redelivery_of", UUID(as_uuid=True), sa.ForeignKey("webhook_deliveries.id")),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempt_count", sa.Integer, nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("uq_webhook_deliveries_endpoint_event", "webhook_deliveries", ["endpoint_id", "event_id"],
                    unique=True, postgresql_where=sa.text("redelivery_of IS NULL"))
    op.create_index("ix_webhook_deliveries_endpoint_time", "webhook_deliveries", ["endpoint_id", "created_at", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("delivery_id", UUID(as_uuid=True), sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Integer),
        sa.Column("error", sa.String(500)),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )
    op.create_index("ix_webhook_attempts_delivery", "webhook_attempts", ["delivery_id", "attempted_at"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
