"""Classification into the Appendix A types: by the document's own words first, its file name as a hint.

Title phrases are the IRS form titles, which every issuer (and every substitute statement) prints. Order
matters where one title contains another (W-2G before W-2, 1098-E/T before 1098).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.document.types import normalize_type

# (type, title phrase, form-number pattern)
_RULES: list[tuple[str, str, str]] = [
    ("W-2G", r"certain gambling winnings", r"\bW-?2G\b"),
    ("W-2", r"wage and tax statement", r"\bW-?2\b"),
    ("1099-INT", r"interest income", r"\b1099-?INT\b"),
    ("1099-DIV", r"dividends and distributions", r"\b1099-?DIV\b"),
    ("1099-B", r"proceeds from broker", r"\b1099-?B\b"),
    ("1099-R", r"distributions from pensions", r"\b1099-?R\b"),
    # MISC before NEC: forms before 2020 printed "nonemployee compensation" as a box of the 1099-MISC.
    ("1099-MISC", r"miscellaneous (?:information|income)", r"\b1099-?MISC\b"),
    ("1099-NEC", r"nonemployee compensation", r"\b1099-?NEC\b"),
    ("1099-K", r"payment card and third party network", r"\b1099-?K\b"),
    ("1099-G", r"certain government payments", r"\b1099-?G\b"),
    ("SSA-1099", r"social security benefit statement", r"\bSSA-?1099\b"),
    ("K-1_1065", r"partner'?s share of income", r"schedule k-1\s*\(form 1065\)"),
    ("K-1_1120S", r"shareholder'?s share of income", r"schedule k-1\s*\(form 1120-?s\)"),
    ("K-1_1041", r"beneficiary'?s share of income", r"schedule k-1\s*\(form 1041\)"),
    ("1098-E", r"student loan interest statement", r"\b1098-?E\b"),
    ("1098-T", r"tuition statement", r"\b1098-?T\b"),
    ("1098", r"mortgage interest statement", r"\bform 1098\b"),
    ("FORM_8879", r"e-file signature authorization", r"\bform 8879\b"),
    ("FORM_7216", r"consent to (?:use|disclose)", r"\b7216\b"),
    ("ENGAGEMENT_LETTER", r"engagement letter", r"$^"),
    ("PROPERTY_TAX", r"property tax (?:statement|bill)", r"$^"),
    ("BROKERAGE_STATEMENT", r"brokerage (?:account )?statement", r"$^"),
    ("BANK_STATEMENT", r"(?:bank|checking|savings) (?:account )?statement", r"$^"),
]

_FILENAME_RULES: list[tuple[str, str]] = [
    ("W-2G", r"w-?2g"), ("W-2", r"w-?2(?![0-9])"), ("SSA-1099", r"ssa-?1099"),
    ("1099-INT", r"1099-?int"), ("1099-DIV", r"1099-?div"), ("1099-B", r"1099-?b(?![a-z])"),
    ("1099-R", r"1099-?r(?![a-z])"), ("1099-NEC", r"1099-?nec"), ("1099-MISC", r"1099-?misc"),
    ("1099-K", r"1099-?k(?![a-z])"), ("1099-G", r"1099-?g(?![a-z])"),
    ("1098-E", r"1098-?e(?![a-z])"), ("1098-T", r"1098-?t(?![a-z])"), ("1098", r"1098"),
    ("K-1_1065", r"k-?1.?1065"), ("K-1_1120S", r"k-?1.?1120s"), ("K-1_1041", r"k-?1.?1041"),
    ("BANK_STATEMENT", r"bank.?statement"), ("BROKERAGE_STATEMENT", r"brokerage"),
    ("PROPERTY_TAX", r"property.?tax"), ("ID_DOCUMENT", r"(?:driver|license|passport)"),
]


@dataclass(frozen=True)
class Classification:
    document_type: str
    confidence: float
    basis: str  # content | filename | hint | none


def classify(text: str, filename: str, hint: str | None = None) -> Classification:
    """The type of the first content rule that matches; else the uploader's hint; else the file name."""
    lowered = text.lower()
    for doc_type, title, number in _RULES:
        has_title = re.search(title, lowered) is not None
        has_number = re.search(number, text, re.IGNORECASE) is not None
        if has_title and has_number:
            return Classification(doc_type, 0.98, "content")
        if has_title:
            return Classification(doc_type, 0.88, "content")
    if hint and normalize_type(hint):
        return Classification(normalize_type(hint), 0.75, "hint")
    stem = filename.lower().replace("_", "-").replace(" ", "-")
    for doc_type, pattern in _FILENAME_RULES:
        if re.search(r"(?<![a-z0-9])" + pattern, stem):
            return Classification(doc_type, 0.6, "filename")
    return Classification("OTHER", 0.0, "none")
