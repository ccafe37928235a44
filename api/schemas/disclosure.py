"""The read model of a client's §7216 disclosure log (docs/disclosure.md): one row per decision of the gate."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from api.openapi import ReadModel
from api.schemas.base import one_of
from domain.disclosure.basis import PURPOSES, RegulatoryException
from domain.disclosure.service import BASES
from domain.roles import Role


class DisclosureOut(ReadModel):
    """A decision of the disclosure gate, allowed or refused (DISCLOSURE_LIST_SPEC.output_fields)."""

    id: uuid.UUID
    client_id: uuid.UUID
    recipient: str = Field(examples=["SurePrep"])
    purpose: one_of(PURPOSES)
    information: str = Field(description="What left (or would have), named without its contents",
                             examples=["document", "efile.federal"])
    tax_year: int | None
    entity_type: str | None
    entity_id: uuid.UUID | None
    allowed: bool
    basis: one_of(BASES) = Field(description="`none`: a refusal found no basis")
    consent_id: uuid.UUID | None = Field(description="The consent an allowed disclosure rested on")
    regulatory_exception: one_of(tuple(e.value for e in RegulatoryException)) | None
    refusal_reason: str | None = Field(description="Why refused: the nearest miss",
                                       examples=["no_consent", "consent_not_signed", "consent_expired",
                                                 "consent_revoked"])
    actor_id: uuid.UUID | None = Field(description="null when the system disclosed")
    actor_role: one_of(tuple(r.value for r in Role))
    system_source: str | None
    occurred_at: datetime
