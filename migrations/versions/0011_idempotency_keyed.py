"""idempotency records keyed and encrypted (issue 13, medium 6): every existing record is deleted, and an index
on created_at serves the scheduled purge

Records made before this revision carry an unkeyed SHA-256 of the request (from which the SSN of a client create
can be recovered) and the response body in clear. They are a 24 h cache, so they are deleted rather than
converted (a keyed hash cannot be computed from a digest): a retry of a request made before the upgrade runs as
a new request, as it would once its record had expired. The downgrade deletes the rows again, since the older
code would replay an encrypted body as it is.

Revision ID: 0011_idempotency_keyed
Revises: 0007_one_primary_contact
"""
from alembic import op

revision = '0011_idempotency_keyed'
down_revision = '0007_one_primary_contact'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM idempotency_keys")
    op.create_index('ix_idempotency_keys_created_at', 'idempotency_keys', ['created_at'])


def downgrade() -> None:
    op.drop_index('ix_idempotency_keys_created_at', table_name='idempotency_keys')
    op.execute("DELETE FROM idempotency_keys")
