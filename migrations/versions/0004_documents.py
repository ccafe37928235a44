"""documents: metadata, extractions, pending (upload-first) documents, SurePrep binders, inbound webhook
events, integration accounts, and the minimal §7216 consents table the SurePrep check reads

Revision ID: 0004_documents
Revises: 0002_tax_returns
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0004_documents'
down_revision = '0002_tax_returns'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_events',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('provider', 'event_id', name='uq_webhook_events_provider_event')
    )
    op.create_table('integration_accounts',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('provider', sa.String(length=30), nullable=False),
    sa.Column('account_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_integration_accounts_firm_id_firms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_integration_accounts')),
    sa.UniqueConstraint('provider', 'account_id', name='uq_integration_accounts_provider_account')
    )
    op.create_table('consents',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('tax_year', sa.Integer(), nullable=False),
    sa.Column('consent_scope', sa.String(length=200), nullable=False),
    sa.Column('third_party_name', sa.String(length=200), nullable=False),
    sa.Column('disclosure_purpose', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_consents_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_consents_firm_id_firms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consents'))
    )
    op.create_index('ix_consents_client', 'consents', ['client_id', 'status'], unique=False)
    op.create_table('sureprep_binders',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('tax_year', sa.Integer(), nullable=False),
    sa.Column('external_binder_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('last_event_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_sureprep_binders_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_sureprep_binders_firm_id_firms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sureprep_binders')),
    sa.UniqueConstraint('client_id', 'tax_year', name='uq_sureprep_binders_client_year'),
    sa.UniqueConstraint('external_binder_id', name=op.f('uq_sureprep_binders_external_binder_id'))
    )
    op.create_table('documents',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('client_id', sa.UUID(), nullable=False),
    sa.Column('return_id', sa.UUID(), nullable=True),
    sa.Column('tax_year', sa.Integer(), nullable=False),
    sa.Column('document_type', sa.String(length=30), nullable=True),
    sa.Column('document_subtype', sa.String(length=50), nullable=True),
    sa.Column('type_hint', sa.String(length=30), nullable=True),
    sa.Column('classification_confidence', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('classification_basis', sa.String(length=20), nullable=True),
    sa.Column('issuer_name', sa.String(length=200), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('file_size', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('s3_key', sa.String(length=300), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('review_reason', sa.String(length=300), nullable=True),
    sa.Column('extraction_confidence', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('uploaded_by', sa.UUID(), nullable=True),
    sa.Column('uploaded_by_role', sa.String(length=20), nullable=False),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sureprep_document_id', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_documents_client_id_clients')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_documents_firm_id_firms')),
    sa.ForeignKeyConstraint(['return_id'], ['tax_returns.id'], name=op.f('fk_documents_return_id_tax_returns')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('sureprep_document_id', name=op.f('uq_documents_sureprep_document_id'))
    )
    op.create_index('ix_documents_client_year', 'documents', ['client_id', 'tax_year'], unique=False)
    op.create_index('ix_documents_firm_uploaded', 'documents', ['firm_id', 'uploaded_at', 'id'], unique=False)
    op.create_index('ix_documents_return', 'documents', ['return_id'], unique=False)
    op.create_table('document_extractions',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('document_id', sa.UUID(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('overall_confidence', sa.Numeric(precision=4, scale=3), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_by', sa.UUID(), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_extractions_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_extractions'))
    )
    op.create_index('uq_document_extractions_current', 'document_extractions', ['document_id'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('document_status_history',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('document_id', sa.UUID(), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=True),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('event', sa.String(length=60), nullable=True),
    sa.Column('reason', sa.String(length=300), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_status_history_document_id_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_status_history'))
    )
    op.create_index(op.f('ix_document_status_history_document_id'), 'document_status_history', ['document_id'], unique=False)
    op.create_table('pending_documents',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('firm_id', sa.UUID(), nullable=False),
    sa.Column('upload_batch_id', sa.String(length=100), nullable=False),
    sa.Column('original_filename', sa.String(length=255), nullable=False),
    sa.Column('file_size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('mime_type', sa.String(length=100), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('s3_key', sa.String(length=300), nullable=False),
    sa.Column('document_type', sa.String(length=30), nullable=True),
    sa.Column('tax_year', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('external_ref', sa.String(length=100), nullable=True),
    sa.Column('uploaded_by', sa.UUID(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('assigned_document_id', sa.UUID(), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['assigned_document_id'], ['documents.id'], name=op.f('fk_pending_documents_assigned_document_id_documents')),
    sa.ForeignKeyConstraint(['firm_id'], ['firms.id'], name=op.f('fk_pending_documents_firm_id_firms')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_documents')),
    sa.UniqueConstraint('firm_id', 'source', 'external_ref', name='uq_pending_documents_external')
    )
    op.create_index('ix_pending_documents_batch', 'pending_documents', ['firm_id', 'upload_batch_id'], unique=False)
    op.create_table('extracted_fields',
    sa.Column('id', sa.UUID(), nullable=False),
    sa.Column('extraction_id', sa.UUID(), nullable=False),
    sa.Column('field_name', sa.String(length=60), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('value', sa.Text(), nullable=True),
    sa.Column('confidence', sa.Numeric(precision=4, scale=3), nullable=False),
    sa.Column('needs_review', sa.Boolean(), nullable=False),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('original_value', sa.Text(), nullable=True),
    sa.Column('corrected_by', sa.UUID(), nullable=True),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified', sa.Boolean(), nullable=False),
    sa.Column('verified_by', sa.UUID(), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['extraction_id'], ['document_extractions.id'], name=op.f('fk_extracted_fields_extraction_id_document_extractions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_extracted_fields')),
    sa.UniqueConstraint('extraction_id', 'field_name', name='uq_extracted_fields_name')
    )
    op.create_index(op.f('ix_extracted_fields_extraction_id'), 'extracted_fields', ['extraction_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_extracted_fields_extraction_id'), table_name='extracted_fields')
    op.drop_table('extracted_fields')
    op.drop_index('ix_pending_documents_batch', table_name='pending_documents')
    op.drop_table('pending_documents')
    op.drop_index(op.f('ix_document_status_history_document_id'), table_name='document_status_history')
    op.drop_table('document_status_history')
    op.drop_index('uq_document_extractions_current', table_name='document_extractions', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_table('document_extractions')
    op.drop_index('ix_documents_return', table_name='documents')
    op.drop_index('ix_documents_firm_uploaded', table_name='documents')
    op.drop_index('ix_documents_client_year', table_name='documents')
    op.drop_table('documents')
    op.drop_table('sureprep_binders')
    op.drop_index('ix_consents_client', table_name='consents')
    op.drop_table('consents')
    op.drop_table('integration_accounts')
    op.drop_table('webhook_events')
