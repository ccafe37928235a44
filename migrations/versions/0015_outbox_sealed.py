"""outbox payloads sealed at rest: a ciphertext column; the clear one only for entries written before

Revision ID: 0015_outbox_sealed
Revises: 0008_outbox
"""
from alembic import op
import sqlalchemy as sa

revision = '0015_outbox_sealed'
down_revision = '0008_outbox'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Entries waiting at the upgrade keep their clear payload and are delivered as they are (the relay drains
    # them within a minute); every new entry is sealed (orchestration/outbox.seal) and has no clear payload.
    op.add_column('outbox', sa.Column('sealed_payload', sa.LargeBinary(), nullable=True))
    op.alter_column('outbox', 'payload', nullable=True)


def downgrade() -> None:
    # The previous release reads clear payloads only, and the key is not the migration's to hold: entries still
    # sealed cannot be delivered by it, so the downgrade refuses while there are any (let the relay drain them).
    pending = op.get_bind().execute(sa.text("SELECT count(*) FROM outbox WHERE sealed_payload IS NOT NULL")).scalar()
    if pending:
        raise RuntimeError(f"{pending} sealed outbox entries wait: let the relay deliver them, then downgrade")
    op.execute("UPDATE outbox SET payload = '{}'::jsonb WHERE payload IS NULL")
    op.alter_column('outbox', 'payload', nullable=False)
    op.drop_column('outbox', 'sealed_payload')
