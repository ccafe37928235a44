"""e-signatures, engagements and Form 7216 consents: signature requests with their evidence, engagement letters,
the consent's covered information, requested end, template version and signing dates, and the firm setting that
holds a return in intake until its engagement is signed.

Revision ID: 0021_esign_engagements
Revises: 0020_disclosure_gate
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = '0021_esign_engagements'
down_revision = '0020_disclosure_gate'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature_requests",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("firm_id", UUID(as_uuid=True), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("subject_type", sa.String(20), nullable=False),
        sa.Column("subject_id", UUID(as_uuid=True), nullable=False),
        sa.Column("provider", sa.String(30), nullable=False),
        sa.Column("provider_request_id", sa.String(100), unique=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("signer_name", sa.String(200), nullable=False),
        sa.Column("signer_email", sa.String(320), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("document_key", sa.String(300), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("signed_document_key", sa.String(300)),
        sa.Column("signed_document_sha256", sa.String(64)),
        sa.Column("signed_document_id", UUID(as_uuid=True), sa.ForeignKey("documents.id")),
        sa.Column("evidence", JSONB),
        sa.Column("declined_reason", sa.String(500)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_signature_requests_subject", "signature_requests", ["subject_type", "subject_id"])
    op.create_index("uq_signature_requests_live_subject", "signature_requests", ["subject_type", "subject_id"],
                    unique=True, postgresql_where=sa.text("status IN ('sending', 'sent', 'completed')"))
    op.create_table(
        "engagements",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("firm_id", UUID(as_uuid=True), sa.ForeignKey("firms.id"), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("tax_year", sa.Integer, nullable=False),
        sa.Column("engagement_type", sa.String(30), nullable=False),
        sa.Column("services", JSONB, nullable=False),
        sa.Column("fee_structure", JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("signature_request_id", UUID(as_uuid=True), sa.ForeignKey("signature_requests.id")),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("signed_at", sa.DateTime(timezone=True)),
        sa.Column("declined_at", sa.DateTime(timezone=True)),
        sa.Column("expired_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_engagements_client_year", "engagements", ["firm_id", "client_id", "tax_year"])
    for column in (sa.Column("information_covered", sa.String(500)),
                   sa.Column("requested_expires_at", sa.DateTime(timezone=True)),
                   sa.Column("template_version", sa.String(40)),
                   sa.Column("signature_request_id", UUID(as_uuid=True)),
                   sa.Column("sent_at", sa.DateTime(timezone=True)),
                   sa.Column("declined_at", sa.DateTime(timezone=True)),
                   sa.Column("revoked_by", UUID(as_uuid=True)),
                   sa.Column("created_by", UUID(as_uuid=True))):
        op.add_column("consents", column)
    op.add_column("system_config", sa.Column("engagement_required_before_prep", sa.Boolean, nullable=False,
                                             server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("system_config", "engagement_required_before_prep")
    for name in ("created_by", "revoked_by", "declined_at", "sent_at", "signature_request_id", "template_version",
                 "requested_expires_at", "information_covered"):
        op.drop_column("consents", name)
    op.drop_table("engagements")
    op.drop_table("signature_requests")
