"""portal connections: connections, linked accounts, imported items, cursors, syncs; documents' portal folder.

Revision ID: 0030_portal_connections
Revises: 0020_disclosure_gate
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

revision = '0030_portal_connections'
down_revision = '0020_disclosure_gate'  # consents with purposes, and the disclosure log every pull writes
branch_labels = None
depends_on = None


def _id():
    return sa.Column("id", UUID(as_uuid=True), primary_key=True)


def _ref(name: str, table: str, nullable: bool = False):
    return sa.Column(name, UUID(as_uuid=True), sa.ForeignKey(f"{table}.id"), nullable=nullable)


def _at(name: str, nullable: bool = False):
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable,
                     server_default=None if nullable else sa.func.now())


def upgrade() -> None:
    op.create_table(
        "portal_connections", _id(), _ref("firm_id", "firms"), _ref("client_id", "clients"),
        _ref("consent_id", "consents"),
        sa.Column("base_url", sa.String(300), nullable=False), sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(60), nullable=False),
        sa.Column("email_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("password_encrypted", sa.LargeBinary, nullable=False),
        sa.Column("totp_secret_encrypted", sa.LargeBinary), sa.Column("session_encrypted", sa.LargeBinary),
        sa.Column("surfaces", ARRAY(sa.String(20)), nullable=False),
        sa.Column("schedule", sa.String(100), nullable=False), sa.Column("status", sa.String(20), nullable=False),
        sa.Column("last_sync_id", UUID(as_uuid=True)), sa.Column("created_by", UUID(as_uuid=True)),
        _at("created_at"), _at("updated_at"), _at("deleted_at", nullable=True),
    )
    op.create_index("ix_portal_connections_firm", "portal_connections", ["firm_id", "created_at", "id"])
    op.create_table(
        "portal_accounts", _id(), _ref("firm_id", "firms"), _ref("connection_id", "portal_connections"),
        sa.Column("portal_account_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("account_type", sa.String(20), nullable=False), sa.Column("region", sa.String(10), nullable=False),
        _ref("client_id", "clients"), sa.Column("matched_by", sa.String(20), nullable=False), _at("created_at"),
        sa.UniqueConstraint("connection_id", "portal_account_id", name="uq_portal_accounts_key"),
    )
    op.create_table(
        "portal_items", _id(), _ref("firm_id", "firms"), _ref("connection_id", "portal_connections"),
        sa.Column("portal_account_id", sa.String(100), nullable=False), _ref("client_id", "clients"),
        sa.Column("surface", sa.String(20), nullable=False),
        sa.Column("portal_item_id", sa.String(100), nullable=False),
        sa.Column("parent_item_id", sa.String(100)), _at("portal_updated_at"),
        sa.Column("data", JSONB, nullable=False), _ref("document_id", "documents", nullable=True),
        sa.Column("first_sync_id", UUID(as_uuid=True)), sa.Column("last_sync_id", UUID(as_uuid=True)),
        _at("created_at"), _at("updated_at"),
        sa.UniqueConstraint("connection_id", "portal_account_id", "surface", "portal_item_id",
                            name="uq_portal_items_key"),
    )
    op.create_index("ix_portal_items_client_surface", "portal_items",
                    ["firm_id", "client_id", "surface", "portal_updated_at", "id"])
    op.create_table(
        "portal_cursors", _id(), _ref("connection_id", "portal_connections"),
        sa.Column("portal_account_id", sa.String(100), nullable=False),
        sa.Column("walk", sa.String(60), nullable=False),
        _at("updated_since"),
        sa.UniqueConstraint("connection_id", "portal_account_id", "walk", name="uq_portal_cursors_key"),
    )
    op.create_table(
        "portal_syncs", _id(), _ref("firm_id", "firms"), _ref("connection_id", "portal_connections"),
        sa.Column("trigger", sa.String(20), nullable=False), sa.Column("workflow_id", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False), sa.Column("error", sa.String(500)),
        sa.Column("results", JSONB, nullable=False), sa.Column("requests_made", sa.BigInteger, nullable=False),
        _at("started_at"), _at("finished_at", nullable=True),
    )
    op.create_index("ix_portal_syncs_connection", "portal_syncs", ["connection_id", "started_at"])
    # Where an imported document sat in the portal: its area and folder path (null for other sources).
    op.add_column("documents", sa.Column("folder_area", sa.String(30)))
    op.add_column("documents", sa.Column("folder_path", sa.String(500)))


def downgrade() -> None:
    op.drop_column("documents", "folder_path")
    op.drop_column("documents", "folder_area")
    for table in ("portal_syncs", "portal_cursors", "portal_items", "portal_accounts", "portal_connections"):
        op.drop_table(table)
