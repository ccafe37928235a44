"""Task queue names, one per kind of work, so workers scale per queue (`python worker.py --queue NAME`)."""

ADMIN = "admin"  # audit exports and other operator work
TAX_RETURN = "tax-return"  # TaxReturnWorkflow and its activities

ALL = [ADMIN, TAX_RETURN]
