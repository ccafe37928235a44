"""E-filing records (spec §11): one transmission per jurisdiction and submission, the acknowledgement the
transmitter returned for it, and each rejection the acknowledgement named. Written by the e-file domain
service (domain/efile/service.py) under the caller's or the system actor's context; driven by
EfileTransmissionWorkflow."""

import uuid
from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from domain.db import Base, created_at_column, updated_at_column, uuid_pk


class EfileTransmission(Base):
    """One jurisdiction's submission of a return. A technical rejection retried by the workflow keeps the row
    (a new Submission ID, `attempts` + 1); a resubmission after correction is a new row linked to the rejected
    one (`previous_transmission_id`). A state row is linked to the federal row it waits for."""

    __tablename__ = "efile_transmissions"
    __table_args__ = (
        Index("ix_efile_transmissions_return", "return_id", "created_at"),
        # One live transmission per return and jurisdiction: a second transmit while one is on its way is a 409.
        Index("uq_efile_transmissions_live", "return_id", "jurisdiction", unique=True,
              postgresql_where=text("status IN ('pending', 'transmitting', 'transmitted')")),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    firm_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("firms.id"), nullable=False)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("clients.id"), nullable=False)
    return_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), ForeignKey("tax_returns.id"), nullable=False)
    jurisdiction: Mapped[str] = mapped_column(String(10), nullable=False)  # federal | a state code (CA)
    transmission_type: Mapped[str] = mapped_column(String(20), nullable=False)  # original | resubmission
    # MeF's 20 characters: EFIN, processing year, day of year, 7-character sequence (domain/efile/submission_id.py).
    submission_id: Mapped[str] = mapped_column(String(20), nullable=False, unique=True)
    # pending (a state waiting for the federal acceptance) → transmitting → transmitted → accepted | rejected;
    # a state whose federal was rejected: denied_by_irs.
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    federal_transmission_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("efile_transmissions.id"))
    previous_transmission_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("efile_transmissions.id"))
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    # The return's figures as transmitted, for the resubmission tolerance (Pub 1345: $50 income/AGI, $14 tax).
    figures: Mapped[dict] = mapped_column(JSONB, nullable=False, default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    transmitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmation_number: Mapped[str | None] = mapped_column(String(40))
    acceptance_date: Mapped[date | None] = mapped_column(Date)
    # The filing date the IRS counts: the original one when retransmitted within the perfection period.
    filing_date: Mapped[date | None] = mapped_column(Date)
    filing_date_kept: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    perfection_deadline: Mapped[date | None] = mapped_column(Date)
    perfection_warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paper_filing_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # superseded by a resubmission
    client_notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = updated_at_column()


class EfileAcknowledgement(Base):
    """The transmitter's acknowledgement of one Submission ID, by webhook or by poll, whichever came first:
    the unique key keeps the second."""

    __tablename__ = "efile_acknowledgements"
    __table_args__ = (UniqueConstraint("submission_id", name="uq_efile_acknowledgements_submission"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    transmission_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("efile_transmissions.id"), nullable=False, index=True)
    submission_id: Mapped[str] = mapped_column(String(20), nullable=False)
    ack_type: Mapped[str] = mapped_column(String(20), nullable=False)  # accepted | rejected
    confirmation_number: Mapped[str | None] = mapped_column(String(40))
    acceptance_date: Mapped[date | None] = mapped_column(Date)
    received_via: Mapped[str] = mapped_column(String(10), nullable=False)  # webhook | poll
    received_at: Mapped[datetime] = created_at_column()


class EfileRejection(Base):
    """One business rule a rejection named (MeF: rule number, category, severity, message, data value)."""

    __tablename__ = "efile_rejections"
    __table_args__ = (UniqueConstraint("submission_id", "error_code", name="uq_efile_rejections_submission_code"),)

    id: Mapped[uuid.UUID] = uuid_pk()
    transmission_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("efile_transmissions.id"), nullable=False, index=True)
    submission_id: Mapped[str] = mapped_column(String(20), nullable=False)
    error_code: Mapped[str] = mapped_column(String(30), nullable=False)
    category: Mapped[str] = mapped_column(String(30), nullable=False)
    severity: Mapped[str] = mapped_column(String(30), nullable=False)
    description: Mapped[str] = mapped_column(String(500), nullable=False)
    data_value: Mapped[str | None] = mapped_column(String(200))
    resolution_guidance: Mapped[str] = mapped_column(String(500), nullable=False)
    auto_correctable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = created_at_column()
