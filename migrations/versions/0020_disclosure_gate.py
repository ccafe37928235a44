"""disclosure gate: a consent's kind and machine-readable purpose, and the append-only disclosure log.

Revision ID: 0020_disclosure_gate
Revises: 0004_documents, 0012_audit_chain
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = '0020_disclosure_gate'
# After the consents table (0004) and the app's database role with its default grants (0012).
down_revision = ('0004_documents', '0012_audit_chain')
branch_labels = None
depends_on = None

APP_ROLE = "taxpractice_app"


def upgrade() -> None:
    op.add_column("consents", sa.Column("kind", sa.String(20), nullable=False, server_default="disclosure"))
    op.add_column("consents", sa.Column("purpose", sa.String(40)))
    # Consents written before purposes had codes: the only recipient the system disclosed to was the document
    # processor, for document processing. Any other is left without a purpose, so it authorizes nothing until
    # staff record one: a guess would be a disclosure without a basis.
    op.execute("UPDATE consents SET purpose = 'document_processing' "
               "WHERE regexp_replace(lower(third_party_name), '[^a-z0-9]', '', 'g') IN ('sureprep', 'sureprepllc')")
    op.alter_column("consents", "kind", server_default=None)
    op.create_table(
        "disclosure_log",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("firm_id", UUID(as_uuid=True), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(40), nullable=False),
        sa.Column("information", sa.String(200), nullable=False),
        sa.Column("tax_year", sa.Integer),
        sa.Column("entity_type", sa.String(40)),
        sa.Column("entity_id", UUID(as_uuid=True)),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("basis", sa.String(20), nullable=False),
        sa.Column("consent_id", UUID(as_uuid=True), sa.ForeignKey("consents.id")),
        sa.Column("regulatory_exception", sa.String(40)),
        sa.Column("refusal_reason", sa.String(40)),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("system_source", sa.String(60)),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_disclosure_log_client_time", "disclosure_log", ["firm_id", "client_id", "occurred_at", "id"])
    # A record of what left: the app appends and reads, never rewrites (as the audit log).
    op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON disclosure_log FROM {APP_ROLE}")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON disclosure_log FROM PUBLIC")


def downgrade() -> None:
    op.drop_table("disclosure_log")
    op.drop_column("consents", "purpose")
    op.drop_column("consents", "kind")
