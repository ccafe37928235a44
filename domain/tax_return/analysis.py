"""Return analysis (spec §5.8–5.9): what an analyzer sees, what it reports, and the offline default.

The offline analyzer is deterministic and needs no network: it reports what the document checklist still
misses and the prior year's document types not received, compares amounts with the prior year (variance over 30 %),
and suggests one client question per finding. It and `integrations/bedrock.py` (AWS Bedrock) are the two
implementations of the `Analyzer` provider (integrations/providers.py). Neither ever sees the client's name,
SSN or address: the input holds document types, amounts and the return's type and year only, so nothing
identifying leaves the firm (§7216).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

VARIANCE_THRESHOLD = Decimal("0.30")
# A variance this large is an exception: the return goes to needs_review instead of in_prep.
EXCEPTION_VARIANCE = Decimal("1.00")

AMOUNT_LABELS = {
    "estimated_tax_due": "Estimated tax due",
    "estimated_refund": "Estimated refund",
    "interest_income": "Interest income",
    "dividend_income": "Dividend income",
    "wages": "Wages",
}


@dataclass(frozen=True)
class AnalysisInput:
    return_type: str
    tax_year: int
    include_prior_year_comparison: bool
    document_types: list[str]
    prior_year_document_types: list[str] | None  # None: no prior-year return on file
    checklist_missing: list[tuple[str, str]]  # (document type, description) the checklist still waits for
    amounts: dict[str, Decimal] = field(default_factory=dict)
    prior_year_amounts: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    type: str  # missing_document | prior_year_variance | no_prior_year
    severity: str  # low | medium | high
    description: str
    recommendation: str
    exception: bool = False

    def as_dict(self) -> dict:
        return {"type": self.type, "severity": self.severity, "description": self.description,
                "recommendation": self.recommendation}


@dataclass(frozen=True)
class SuggestedQuestion:
    id: str
    question: str
    context: str

    def as_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "context": self.context}


@dataclass(frozen=True)
class AnalysisResult:
    analyzer: str
    findings: list[Finding]
    suggested_questions: list[SuggestedQuestion]

    @property
    def has_exception(self) -> bool:
        return any(f.exception for f in self.findings)


def question_id(analysis_id: uuid.UUID, index: int) -> str:
    """Stable per analysis, so a retried activity stores the same ids a client question may refer to."""
    return str(uuid.uuid5(analysis_id, f"suggested-question-{index}"))


def _pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('1'))}%"


class OfflineAnalyzer:
    name = "offline"

    def analyze(self, analysis_id: uuid.UUID, data: AnalysisInput) -> AnalysisResult:
        findings: list[tuple[Finding, str, str]] = []  # finding, question, question context
        have = set(data.document_types)
        for doc_type, description in data.checklist_missing:
            findings.append((
                Finding("missing_document", "high", f"{description} not found (document checklist)",
                        f"Request the {doc_type} from the client"),
                f"Did you receive this for {data.tax_year}: {description}? Please upload it.",
                "Expected by the document checklist but not received"))
        # The prior year's documents, where the checklist (which already covers them) said nothing.
        covered = {doc_type for doc_type, _ in data.checklist_missing}
        if data.include_prior_year_comparison and data.prior_year_document_types:
            for doc_type in sorted(set(data.prior_year_document_types) - have - covered):
                findings.append((
                    Finding("missing_document", "high", f"{doc_type} not found (expected from your "
                            f"{data.tax_year - 1} return)", f"Request the {doc_type} from the client"),
                    f"Did you receive a {doc_type} for {data.tax_year}? Please upload it.",
                    f"You had one for {data.tax_year - 1} but we have not received it"))
        if data.include_prior_year_comparison:
            if data.prior_year_document_types is None:
                findings.append((Finding("no_prior_year", "low", "No prior-year return on file to compare with",
                                         "Ask the client for last year's return"),
                                 f"Can you send us your {data.tax_year - 1} tax return?",
                                 "We have no prior-year return on file"))
            for key in sorted(set(data.amounts) & set(data.prior_year_amounts)):
                before, now = data.prior_year_amounts[key], data.amounts[key]
                if before == 0:
                    continue
                change = (now - before) / abs(before)
                if abs(change) <= VARIANCE_THRESHOLD:
                    continue
                label = AMOUNT_LABELS.get(key, key.replace("_", " ").capitalize())
                direction = "increased" if change > 0 else "decreased"
                exception = abs(change) >= EXCEPTION_VARIANCE
                findings.append((
                    Finding("prior_year_variance", "high" if exception else "medium",
                            f"{label} {direction} {_pct(abs(change))} from prior year",
                            "Verify with client - may indicate a change in income or withholding",
                            exception=exception),
                    f"{label} {direction} {_pct(abs(change))} compared with {data.tax_year - 1}. "
                    f"Did anything change (new accounts, jobs, withholding)?",
                    f"{label} significantly different from prior year"))
        return AnalysisResult(
            analyzer=self.name,
            findings=[f for f, _, _ in findings],
            suggested_questions=[SuggestedQuestion(question_id(analysis_id, i), q, c)
                                 for i, (_, q, c) in enumerate(findings)],
        )
