"""The rules of IRS Modernized e-File this capability follows (public facts: ESIGN-7216-EFILE-NOTES.md), pure
Python so EfileTransmissionWorkflow can import them: Submission IDs, the reject codes we know and what to do
about each, escalation by category, the perfection period, and Pub 1345's retransmission tolerance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

FEDERAL = "federal"
# The two-letter codes of the states (and DC) that run an e-file program linked to the federal submission.
STATES = frozenset("""AL AR AZ CA CO CT DC DE GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE NJ NM NY
OH OK OR PA RI SC UT VA VT WI WV""".split())

SUBMISSION_ID = re.compile(r"^[0-9]{6}[0-9]{4}[0-9]{3}[a-z0-9]{7}$")
SEQUENCE_SPACE = 36 ** 7  # seven base-36 characters


def submission_id(efin: str, on: date, sequence: int) -> str:
    """MeF's 20 characters: EFIN (6), processing year (4), day of the year (3), a 7-character sequence
    (lower-case base 36 of the submission sequence's value)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    seq, n = "", sequence
    while n:
        n, r = divmod(n, 36)
        seq = digits[r] + seq
    if not 0 < sequence < SEQUENCE_SPACE:
        raise ValueError("sequence out of range for a Submission ID")
    return f"{efin}{on.year:04d}{on.timetuple().tm_yday:03d}{seq.rjust(7, '0')}"


# ---- rejections -----------------------------------------------------------------------------------------------

CATEGORIES = ("technical", "duplicate", "missing_information", "data_mismatch", "identity")
# Unresolved rejections escalate to the firm's deciders after this long (issue 16).
ESCALATE_AFTER = {"technical": timedelta(days=1), "duplicate": timedelta(days=3),
                  "missing_information": timedelta(days=5), "data_mismatch": timedelta(days=7),
                  "identity": timedelta(days=10)}
TECHNICAL_RETRIES = 3  # a technical rejection is retransmitted automatically this many times


@dataclass(frozen=True)
class RejectCode:
    category: str
    description: str
    resolution_guidance: str
    auto_correctable: bool = False


# What we know of the codes the field meets most (the notes' list); an unknown code is kept as the transmitter
# described it, categorised by its prefix, with generic guidance.
REJECT_CODES: dict[str, RejectCode] = {
    "IND-031-04": RejectCode("data_mismatch", "Primary taxpayer's prior-year AGI or Self-Select PIN does not match "
                             "the e-File database", "Ask the taxpayer for the prior-year AGI exactly as filed (or "
                             "0 if the prior return was processed late) and re-sign the 8879 if the PIN changes"),
    "IND-032-04": RejectCode("data_mismatch", "Spouse's prior-year AGI or Self-Select PIN does not match the e-File "
                             "database", "Confirm the spouse's prior-year AGI or PIN"),
    "IND-181-01": RejectCode("identity", "Missing or invalid Identity Protection PIN",
                             "Get the taxpayer's current IP PIN (IRS Get an IP PIN) and enter it"),
    "R0000-504-02": RejectCode("data_mismatch", "Dependent SSN and name control do not match IRS records",
                               "Verify each dependent's SSN and name against the Social Security card"),
    "R0000-507-01": RejectCode("duplicate", "Dependent already claimed on another return",
                               "Confirm eligibility with the taxpayer; if correct, paper-file with documentation"),
    "IND-524": RejectCode("data_mismatch", "Date of birth does not match IRS records",
                          "Verify the date of birth with SSA records"),
    "R0000-500-01": RejectCode("data_mismatch", "Primary SSN and name control do not match IRS records",
                               "Verify taxpayer SSN and name match the Social Security card exactly"),
    "R0000-503-02": RejectCode("data_mismatch", "Spouse SSN and name control do not match IRS records",
                               "Verify the spouse's SSN and name match the Social Security card exactly"),
    "R0000-902-01": RejectCode("duplicate", "A return with this SSN was already accepted for this tax year",
                               "Check whether the taxpayer (or someone else) already filed; if identity theft is "
                               "suspected, paper-file with Form 14039"),
    "IND-689-01": RejectCode("missing_information", "Signature date year differs from the processing year",
                             "Have the taxpayer sign a new Form 8879 dated this year", auto_correctable=False),
    "X0000-005": RejectCode("technical", "The transmitter could not process the submission (technical error)",
                            "None needed: retransmitted automatically", auto_correctable=True),
}


def describe(code: str, category: str | None, description: str | None) -> RejectCode:
    known = REJECT_CODES.get(code)
    if known is not None:
        return known
    category = category if category in CATEGORIES else ("technical" if code.startswith("X") else "data_mismatch")
    return RejectCode(category, description or "Rejected by the transmitter",
                      "Read the business rule in the IRS MeF rules for this code and correct the return")


# ---- the perfection period -----------------------------------------------------------------------------------

PERFECTION_DAYS = {"1040": 5, "4868": 5, "7004": 5, "8868": 5, "1120": 10, "1120S": 10, "1065": 10, "990": 10,
                   "1041": 5}


def perfection_deadline(return_type: str, rejected_on: date) -> date:
    """The last calendar day a rejected return may be retransmitted and keep its original filing date (not
    extended for weekends)."""
    return rejected_on + timedelta(days=PERFECTION_DAYS.get(return_type, 5))


# ---- Pub 1345's tolerance for retransmitting without new signatures -------------------------------------------

FIGURES = ("total_income", "agi", "total_tax")
TOLERANCE = {"total_income": Decimal("50"), "agi": Decimal("50"), "total_tax": Decimal("14")}


def beyond_tolerance(before: dict, after: dict) -> list[str]:
    """The figures that changed by more than the IRS tolerance ($50 of income or AGI, $14 of tax); a figure
    known on one side only counts as changed beyond it (nothing proves it stayed within)."""
    changed = []
    for name in FIGURES:
        old, new = before.get(name), after.get(name)
        if old is None and new is None:
            continue
        if old is None or new is None or abs(Decimal(str(new)) - Decimal(str(old))) > TOLERANCE[name]:
            changed.append(name)
    return changed
