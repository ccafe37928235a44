"""The built-in offline extractor: reads the text layer of a PDF and finds the boxes of W-2, 1099-INT,
1099-DIV, 1099-NEC and 1098 by their printed labels, each value with a confidence.

Confidence says how the value was found, not a guess at correctness: a value on the label's own line is
0.97, a value on the next line 0.85 (layouts that wrap are where extraction goes wrong), a name taken from the
line under its label 0.9. Anything under the review threshold is flagged `needs_review` for a person.
Scanned images have no text layer: they get no fields and go to review, rather than invented values. The text
itself is read in a resource-limited child process (domain/document/pdf_text.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_PAGES = 6  # tax forms are a page or two; a 300-page statement is not read whole to classify it
SAME_LINE, NEXT_LINE, NAME_BELOW, NAME_INLINE, TIN = 0.97, 0.85, 0.9, 0.95, 0.98

_AMOUNT = re.compile(r"\$?\s*(\(?-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?\)?)(?![\d,]*%)")
_TIN = re.compile(r"\b(\d{2}-\d{7})\b")
_YEAR = re.compile(r"\b(?:tax year|calendar year|for year|year)\s*:?\s*(20\d{2})\b", re.IGNORECASE)
_ANY_YEAR = re.compile(r"\b(20\d{2})\b")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  # a regex over the lower-cased line
    kind: str = "money"  # money | name | tin


@dataclass(frozen=True)
class FieldValue:
    name: str
    value: str | None
    confidence: float


FORMS: dict[str, list[FieldSpec]] = {
    "W-2": [
        FieldSpec("employer_name", r"employer'?s name", "name"),
        FieldSpec("employer_ein", r"employer identification number|employer'?s (?:ein|fed(?:eral)? id)", "tin"),
        FieldSpec("wages", r"wages,? tips,? other comp"),
        FieldSpec("federal_withholding", r"federal income tax withheld"),
        FieldSpec("social_security_wages", r"social security wages"),
        FieldSpec("social_security_withholding", r"social security tax withheld"),
        FieldSpec("medicare_wages", r"medicare wages and tips"),
        FieldSpec("medicare_withholding", r"medicare tax withheld"),
        FieldSpec("state_wages", r"state wages,? tips"),
        FieldSpec("state_withholding", r"state income tax"),
    ],
    "1099-INT": [
        FieldSpec("payer_name", r"payer'?s name", "name"),
        FieldSpec("payer_tin", r"payer'?s (?:tin|federal identification)", "tin"),
        FieldSpec("interest_income", r"(?:^|box 1\b.*)interest income"),
        FieldSpec("early_withdrawal_penalty", r"early withdrawal penalty"),
        FieldSpec("us_savings_bond_interest", r"interest on u\.?s\.? savings bonds"),
        FieldSpec("federal_withholding", r"federal income tax withheld"),
        FieldSpec("tax_exempt_interest", r"tax-exempt interest"),
    ],
    "1099-DIV": [
        FieldSpec("payer_name", r"payer'?s name", "name"),
        FieldSpec("payer_tin", r"payer'?s (?:tin|federal identification)", "tin"),
        FieldSpec("ordinary_dividends", r"total ordinary dividends"),
        FieldSpec("qualified_dividends", r"qualified dividends"),
        FieldSpec("capital_gain_distributions", r"total capital gain distr"),
        FieldSpec("federal_withholding", r"federal income tax withheld"),
        FieldSpec("foreign_tax_paid", r"foreign tax paid"),
    ],
    "1099-NEC": [
        FieldSpec("payer_name", r"payer'?s name", "name"),
        FieldSpec("payer_tin", r"payer'?s (?:tin|federal identification)", "tin"),
        FieldSpec("nonemployee_compensation", r"nonemployee compensation"),
        FieldSpec("federal_withholding", r"federal income tax withheld"),
        FieldSpec("state_withholding", r"state (?:income )?tax withheld"),
    ],
    "1098": [
        FieldSpec("lender_name", r"(?:recipient'?s/)?lender'?s name", "name"),
        FieldSpec("lender_tin", r"(?:recipient'?s|lender'?s) (?:tin|federal identification)", "tin"),
        FieldSpec("mortgage_interest", r"mortgage interest received"),
        FieldSpec("outstanding_principal", r"outstanding mortgage principal"),
        FieldSpec("mortgage_insurance_premiums", r"mortgage insurance premiums"),
        FieldSpec("points_paid", r"points paid on purchase"),
    ],
}

SUPPORTED_TYPES = frozenset(FORMS)
ISSUER_FIELDS = ("employer_name", "payer_name", "lender_name")


def has_text(text: str) -> bool:
    return len(re.findall(r"[A-Za-z]{3,}", text)) >= 5


def _money(raw: str) -> str | None:
    negative = raw.startswith("(") and raw.endswith(")")
    cleaned = raw.strip("()").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if negative:
        value = -value
    return str(value.quantize(Decimal("0.01")))


def _first_amount(fragment: str) -> str | None:
    # Box numbers ("Box 1", "1a") precede labels, never follow them: the first amount after a label is its value.
    for match in _AMOUNT.finditer(fragment):
        raw = match.group(1)
        if "." in raw or "," in raw or len(raw.strip("()-")) >= 2 or fragment.strip().startswith("$"):
            return _money(raw)
    return None


def _find(lines: list[str], spec: FieldSpec) -> FieldValue | None:
    for index, line in enumerate(lines):
        match = re.search(spec.label, line.lower())
        if match is None:
            continue
        after = line[match.end():]
        following = next((l for l in lines[index + 1:index + 3] if l.strip()), "")
        if spec.kind == "money":
            if (value := _first_amount(after)) is not None:
                return FieldValue(spec.name, value, SAME_LINE)
            if (value := _first_amount(following)) is not None and not re.search(r"[a-z]{4,}", following.lower()):
                return FieldValue(spec.name, value, NEXT_LINE)
        elif spec.kind == "tin":
            for candidate, confidence in ((after, TIN), (following, NEXT_LINE)):
                if tin := _TIN.search(candidate):
                    return FieldValue(spec.name, tin.group(1), confidence)
        else:
            # "Employer's name, address, and ZIP code: Acme Corporation" or the name on the next line.
            inline = re.sub(r"^[,\s]*(?:address,?\s*(?:and|&)?\s*zip code)?\s*[:\-]?\s*", "", after,
                            flags=re.IGNORECASE).strip()
            if len(inline) >= 2:
                return FieldValue(spec.name, inline, NAME_INLINE)
            if following.strip():
                return FieldValue(spec.name, following.strip(), NAME_BELOW)
    return None


def extract_fields(document_type: str, text: str) -> list[FieldValue]:
    """The fields of a supported form, in the form's box order; missing boxes are simply absent."""
    lines = [line.strip() for line in text.splitlines()]
    found = []
    for spec in FORMS.get(document_type, []):
        value = _find(lines, spec)
        if value is not None:
            found.append(value)
    return found


def detect_tax_year(text: str) -> tuple[int | None, float]:
    if match := _YEAR.search(text):
        return int(match.group(1)), 0.95
    years = _ANY_YEAR.findall(text[:2000])
    if years:
        return int(max(set(years), key=years.count)), 0.7
    return None, 0.0


def issuer_of(fields: list[FieldValue]) -> str | None:
    for field in fields:
        if field.name in ISSUER_FIELDS and field.value:
            return field.value[:200]
    return None
