"""one primary contact per client: older duplicates demoted, then a partial unique index

Revision ID: 0007_one_primary_contact
Revises: 0001_foundation
"""
from alembic import op
import sqlalchemy as sa

revision = '0007_one_primary_contact'
down_revision = '0001_foundation'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Before the index, a client could have several primary contacts: the newest one stays primary.
    op.execute("""
        UPDATE client_contacts c SET is_primary = false
        WHERE c.is_primary AND c.deleted_at IS NULL AND EXISTS (
            SELECT 1 FROM client_contacts newer
            WHERE newer.client_id = c.client_id AND newer.is_primary AND newer.deleted_at IS NULL
              AND (newer.created_at, newer.id) > (c.created_at, c.id))
    """)
    op.create_index('uq_client_contacts_primary', 'client_contacts', ['client_id'], unique=True,
                    postgresql_where=sa.text('is_primary AND deleted_at IS NULL'))


def downgrade() -> None:
    op.drop_index('uq_client_contacts_primary', table_name='client_contacts')
