"""The document types of Appendix A, and the spellings callers use for them (w2, 1099_div …)."""

from __future__ import annotations

import re

DOCUMENT_TYPES = {
    "W-2": "Wage and Tax Statement",
    "W-2G": "Gambling Winnings",
    "1099-INT": "Interest Income",
    "1099-DIV": "Dividends and Distributions",
    "1099-B": "Broker Transactions",
    "1099-R": "Retirement Distributions",
    "1099-MISC": "Miscellaneous Income",
    "1099-NEC": "Nonemployee Compensation",
    "1099-K": "Payment Card Transactions",
    "1099-G": "Government Payments",
    "SSA-1099": "Social Security Benefits",
    "K-1_1065": "Schedule K-1 (Partnership)",
    "K-1_1120S": "Schedule K-1 (S Corporation)",
    "K-1_1041": "Schedule K-1 (Trust/Estate)",
    "1098": "Mortgage Interest",
    "1098-E": "Student Loan Interest",
    "1098-T": "Tuition Statement",
    "BANK_STATEMENT": "Bank Statement",
    "BROKERAGE_STATEMENT": "Brokerage Statement",
    "PROPERTY_TAX": "Property Tax Statement",
    "ENGAGEMENT_LETTER": "Engagement Letter",
    "FORM_8879": "IRS e-file Signature Authorization",
    "FORM_7216": "Consent for Disclosure",
    "DRAFT_RETURN": "Draft Tax Return",
    "FINAL_RETURN": "Final Tax Return",
    "EFILE_CONFIRMATION": "E-file Confirmation",
    "ID_DOCUMENT": "Identity Document",
    "OTHER": "Other Document",
}

# Documents the firm produces or keeps for itself: never "expected" from the client on a checklist.
FIRM_DOCUMENT_TYPES = frozenset({"ENGAGEMENT_LETTER", "FORM_8879", "FORM_7216", "DRAFT_RETURN", "FINAL_RETURN",
                                 "EFILE_CONFIRMATION", "ID_DOCUMENT"})

_ALIASES = {re.sub(r"[^a-z0-9]", "", name.lower()): name for name in DOCUMENT_TYPES}


def normalize_type(raw: str) -> str | None:
    """'W-2', 'w2', '1099_div', 'k1_1065' → the Appendix A value; None when it names no type."""
    if raw in DOCUMENT_TYPES:
        return raw
    return _ALIASES.get(re.sub(r"[^a-z0-9]", "", raw.lower()))


# The source of a document the e-signature capability stored: the sealed, signed PDF with its evidence (an
# engagement letter, a Form 7216 consent, a remotely signed Form 8879). Such a record cannot be deleted, and a
# Form 8879 from it counts as signed remotely for e-filing.
ESIGN_SOURCE = "esign"
