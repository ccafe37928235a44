"""Task queue names, one per kind of work, so workers scale per queue (`python worker.py --queue NAME`)."""

ADMIN = "admin"  # audit exports, the outbox relay, the idempotency purge and other operator work
DOCUMENTS = "documents"  # document processing: classification, extraction, SurePrep/SmartVault
BILLING = "billing"  # invoices and estimated-payment schedules
TAX_RETURN = "tax-return"  # TaxReturnWorkflow and its activities
SIGNATURES = "signatures"  # engagement letters and Form 7216 consents sent for e-signature
EFILE = "efile"  # EfileTransmissionWorkflow: submissions, acknowledgements, rejection timers
IDENTITY = "identity"  # IdentityVerificationWorkflow: one-time codes, Persona inquiries, expiry
PORTAL = "portal"  # client-portal syncs: long walks of an outside portal, kept off the other queues
# Outbound webhook deliveries and their fan-out: receivers the firm points anywhere, some slow or dead, kept off
# every other queue so they can never hold up a return or an invoice (docs/webhooks-outbound.md).
WEBHOOKS = "webhooks"
ALL = [ADMIN, DOCUMENTS, BILLING, TAX_RETURN, SIGNATURES, EFILE, IDENTITY, PORTAL, WEBHOOKS]
