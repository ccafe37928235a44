"""domain events: one row per change a webhook may report, written in the transaction of the change

Revision ID: 0035_domain_events
Revises: 0012_audit_chain
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = '0035_domain_events'
# After the app's database role and its default grants (0012), so the new table is the app's to write.
down_revision = '0012_audit_chain'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "domain_events",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("firm_id", UUID(as_uuid=True), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("type", sa.String(60), nullable=False),
        sa.Column("entity_type", sa.String(40), nullable=False),
        sa.Column("entity_id", UUID(as_uuid=True), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("fanned_out_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_domain_events_pending", "domain_events", ["occurred_at"],
                    postgresql_where=sa.text("fanned_out_at IS NULL"))
    op.create_index("ix_domain_events_entity", "domain_events", ["firm_id", "entity_type", "entity_id"])


def downgrade() -> None:
    op.drop_table("domain_events")
