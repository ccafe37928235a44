"""Request bodies and read models of what is sent for e-signature: Form 7216 consents, engagement letters (spec §10)
and a return's Form 8879. The read models document the answers (api/openapi.py); the routers render the dicts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from api.openapi import Amount, ReadModel
from api.schemas.base import PatchModel, RequestModel, SingleLine, UtcDatetime, any_case, one_of
from api.schemas.invoice import Money
from domain.consent.models import CONSENT_KINDS, CONSENT_STATUSES
from domain.consent.service import DEFAULT_INFORMATION, PURPOSE_BY_RECIPIENT
from domain.disclosure.basis import PURPOSES
from domain.engagement.models import ENGAGEMENT_STATUSES, ENGAGEMENT_TYPES, FEE_TYPES
from domain.esign.models import FINAL_STATUSES, OPEN_STATUSES

Year = Annotated[int, Field(ge=2000, le=2100)]


# ---- consents --------------------------------------------------------------------------------------------------

# What recipient_key drops between letters, as far as every regex engine agrees: ASCII spaces and punctuation (`\W`
# would be ASCII-only in JSON Schema's ECMA dialect but Unicode in Python's).
_SEPARATORS = r"[ -/:-@\[-`{-~]*"


def _recipient_pattern(key: str) -> str:
    """A name whose recipient_key (domain/disclosure/gate.py) is `key`: its letters in any case, anything else
    between them, and an optional company suffix."""
    suffixes = "|".join(any_case(suffix, _SEPARATORS) for suffix in ("llc", "inc", "corp", "ltd"))
    return f"^{_SEPARATORS}{any_case(key, _SEPARATORS)}{_SEPARATORS}(?:(?:{suffixes}){_SEPARATORS})?$"


def _given(field: str, schema: dict | None = None) -> dict:
    return {"required": [field], "properties": {field: schema or {"not": {"type": "null"}}}}


# What create_consent requires beyond each field (a 400 naming the field otherwise), said in the document: a
# disclosure consent names its recipient and the gate's purpose (implied for a recipient with one, SurePrep); a
# consent whose purpose has no default information (or that has no purpose) says what it covers.
CONSENT_RULES = [
    {"if": {"required": ["kind"], "properties": {"kind": {"const": "use"}}},
     "else": {"allOf": [_given("third_party_name"), {"anyOf": [
         _given("purpose"),
         *(_given("third_party_name", {"type": "string", "pattern": _recipient_pattern(key)})
           for key in sorted(PURPOSE_BY_RECIPIENT))]}]}},
    {"anyOf": [_given("information_covered"),
               _given("purpose", {"enum": [purpose.value for purpose in DEFAULT_INFORMATION]}),
               {"allOf": [{"not": _given("purpose")}, {"not": {"required": ["kind"], "properties": {
                   "kind": {"const": "use"}}}}]}]},
]


class ConsentCreate(RequestModel):
    tax_year: Year
    consent_scope: SingleLine = Field(min_length=1, max_length=200)
    # The recipient a disclosure consent names (required for kind `disclosure`).
    third_party_name: SingleLine | None = Field(None, min_length=1, max_length=200)
    disclosure_purpose: str = Field(min_length=1, max_length=500, description="the purpose in the client's words")
    kind: one_of(CONSENT_KINDS) = Field("disclosure", description="separate documents for 1040 filers")
    purpose: one_of(PURPOSES) | None = Field(
        None, description="the gate's purpose code; implied for a recipient with one purpose (SurePrep)")
    information_covered: str | None = Field(None, min_length=1, max_length=500,
                                            description="default: what the purpose's path discloses")
    expires_at: UtcDatetime | None = Field(None, description="in the future; default: one year from the signature")

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        handler.resolve_ref_schema(schema)["allOf"] = CONSENT_RULES
        return schema


class SignatureOut(ReadModel):
    """A signature request and, once completed, the signer's evidence (docs/esign.md)."""

    id: uuid.UUID
    status: one_of(OPEN_STATUSES + FINAL_STATUSES)
    provider: str = Field(examples=["google"])
    provider_request_id: str | None
    signer_name: str
    signer_email: str
    document_sha256: str
    signed_document_id: uuid.UUID | None
    signed_document_sha256: str | None
    sent_at: datetime | None
    completed_at: datetime | None
    declined_reason: str | None
    evidence: dict[str, Any] | None = Field(description="What the provider recorded of the signing (signer, "
                                                        "document hash, consent to electronic records, times)")


class ConsentOut(ReadModel):
    id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    kind: one_of(CONSENT_KINDS)
    consent_scope: str
    third_party_name: str
    disclosure_purpose: str
    purpose: str | None
    information_covered: str | None
    template_version: str | None
    status: one_of(CONSENT_STATUSES)
    created_at: datetime
    sent_at: datetime | None
    signed_at: datetime | None
    declined_at: datetime | None
    expires_at: datetime | None
    requested_expires_at: datetime | None
    revoked_at: datetime | None
    signature: SignatureOut | None = Field(description="The latest signature request (GET of one consent; null "
                                                       "in the list and before sending)")


class SendOut(ReadModel):
    """What a send answers: 200 once the provider has the document, 202 (the provider is slow: the workflow keeps
    sending) with `signature_request_id` and `sent_at` null."""

    id: uuid.UUID
    status: str = Field(description="The subject's status: a consent's, an engagement's, or the return's")
    signature_request_id: uuid.UUID | None
    sent_at: datetime | None


# ---- engagements -----------------------------------------------------------------------------------------------

class FeeStructure(RequestModel):
    type: one_of(FEE_TYPES) = "fixed"
    base_fee: Money | None = None
    additional_forms: Money | None = None
    hourly_rate: Money | None = None
    retainer: Money | None = None


# Surrounding spaces are stripped before the length counts: at least one character that is not a space.
Service = Annotated[str, Field(min_length=1, max_length=40,
                               pattern=r"^[A-Za-z0-9_\-. ]*[A-Za-z0-9_\-.][A-Za-z0-9_\-. ]*$")]


class EngagementCreate(RequestModel):
    client_id: uuid.UUID
    tax_year: Year
    engagement_type: one_of(ENGAGEMENT_TYPES)
    services: list[Service] = Field(min_length=1, max_length=30)
    fee_structure: FeeStructure


class EngagementUpdate(PatchModel):
    not_clearable = frozenset({"engagement_type", "services", "fee_structure"})

    engagement_type: one_of(ENGAGEMENT_TYPES) | None = None
    services: list[Service] | None = Field(None, min_length=1, max_length=30)
    fee_structure: FeeStructure | None = None


class FeeStructureOut(ReadModel):
    """Amounts as spec §10.2 shows them, printed with two decimals (stored exact); an amount not set is absent."""

    type: one_of(FEE_TYPES)
    base_fee: Amount | None = None
    additional_forms: Amount | None = None
    hourly_rate: Amount | None = None
    retainer: Amount | None = None


class EngagementOut(ReadModel):
    id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    engagement_type: one_of(ENGAGEMENT_TYPES)
    services: list[str]
    status: one_of(ENGAGEMENT_STATUSES)
    fee_structure: FeeStructureOut
    signature_request_id: uuid.UUID | None
    sent_at: datetime | None
    signed_at: datetime | None
    declined_at: datetime | None
    expired_at: datetime | None
    document_url: str | None = Field(description="The signed letter's download, once signed")
    created_at: datetime
    updated_at: datetime
