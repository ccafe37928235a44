"""Task queue names, one per kind of work, so workers scale per queue (`python worker.py --queue NAME`)."""

ADMIN = "admin"  # audit exports, the outbox relay, the idempotency purge and other operator work
DOCUMENTS = "documents"  # document processing: classification, extraction, SurePrep/SmartVault
BILLING = "billing"  # invoices and estimated-payment schedules
TAX_RETURN = "tax-return"  # TaxReturnWorkflow and its activities
PORTAL = "portal"  # client-portal syncs: long walks of an outside portal, kept off the other queues

ALL = [ADMIN, DOCUMENTS, BILLING, TAX_RETURN, PORTAL]
