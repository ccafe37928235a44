"""Form 7216 consents (spec §10): the client's written permission before return information is disclosed to a
third party (kind `disclosure`) or used for another purpose than preparing the return (kind `use`); for 1040
filers these are separate documents. The gate (domain/disclosure/gate.py) reads `kind`, `purpose`,
`third_party_name`, `status`, `signed_at`, `expires_at` and `revoked_at`."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, uuid_pk

CONSENT_STATUSES = ("pending", "sent", "signed", "declined", "revoked", "expired")
CONSENT_KINDS = ("disclosure", "use")


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_client", "client_id", "status"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    tax_year: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="disclosure")
    consent_scope: Mapped[str] = mapped_column(String(200), nullable=False)
    third_party_name: Mapped[str] = mapped_column(String(200), nullable=False)
    disclosure_purpose: Mapped[str] = mapped_column(String(500), nullable=False)
    # Which of domain.disclosure.basis.DisclosurePurpose the system may do under it; disclosure_purpose says it
    # in the client's words. Null only on consents recorded before purposes had codes: they authorize nothing.
    purpose: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending")
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    # What return information the consent covers, in the client's words (Treas. Reg. §301.7216-3(a)(3)(i)).
    information_covered: Mapped[str | None] = mapped_column(String(500))
    # The date the client named for the consent to end; None: one year from the signature (Rev. Proc. 2013-14).
    requested_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The template (kind and version) whose words the client saw: domain/consent/templates.py.
    template_version: Mapped[str | None] = mapped_column(String(40))
    signature_request_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    declined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
