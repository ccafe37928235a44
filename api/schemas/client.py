"""Client and contact request bodies (spec §4)."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from api.openapi import ReadModel
from api.schemas.base import IsoDate, JsonSchemaPattern, MailableEmail, PatchModel, RequestModel, SingleLine, one_of
from domain.client.service import CLIENT_STATUSES, CLIENT_TYPES

ClientType = one_of(CLIENT_TYPES)
ClientStatus = one_of(CLIENT_STATUSES)
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-?(?!00)\d{2}-?(?!0000)\d{4}$")
_PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}$")


# The rules above as the document states them (ASCII digits: what a client should send).
Phone = Annotated[str, JsonSchemaPattern(r"^\+?[0-9 ().-]{7,25}$")]
Ssn = Annotated[str, JsonSchemaPattern(r"^(?!000|666|9[0-9][0-9])[0-9]{3}-?(?!00)[0-9]{2}-?(?!0000)[0-9]{4}$")]


def _check_phone(value: str | None) -> str | None:
    if value is not None and not _PHONE.match(value):
        raise ValueError("phone must be digits with optional +, spaces, dots, dashes or parentheses")
    return value


class Address(RequestModel):
    street1: str = Field(min_length=1, max_length=200)
    street2: str | None = Field(None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    state: str = Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")
    zip: str = Field(pattern=r"^\d{5}(-\d{4})?$")


class AddressPatch(RequestModel):
    not_clearable = frozenset({"street1", "city", "state", "zip"})

    street1: str | None = Field(None, min_length=1, max_length=200)
    street2: str | None = Field(None, max_length=200)
    city: str | None = Field(None, min_length=1, max_length=100)
    state: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    zip: str | None = Field(None, pattern=r"^\d{5}(-\d{4})?$")

    @model_validator(mode="after")
    def required_parts_stay(self) -> "AddressPatch":
        """The merge keeps what is not sent; an explicit null may clear street2 only, as Address requires the rest."""
        cleared = sorted(name for name in self.model_fields_set & self.not_clearable if getattr(self, name) is None)
        if cleared:
            raise ValueError(f"{', '.join(cleared)} cannot be cleared")
        return self


class _SsnMixin:
    @field_validator("ssn", check_fields=False)
    @classmethod
    def valid_ssn(cls, value: str | None) -> str | None:
        if value is not None and not _SSN.match(value):
            # The message never repeats the value: an SSN must not reach logs through an error.
            raise ValueError("ssn must be a valid SSN (NNN-NN-NNNN)")
        return value

    @field_validator("phone", check_fields=False)
    @classmethod
    def valid_phone(cls, value: str | None) -> str | None:
        return _check_phone(value)

    @field_validator("date_of_birth", check_fields=False)
    @classmethod
    def plausible_birth_date(cls, value: date | None) -> date | None:
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValueError("date_of_birth must be between 1900-01-01 and today")
        return value


class ClientCreate(_SsnMixin, RequestModel):
    client_type: ClientType
    name: SingleLine = Field(min_length=1, max_length=200)  # in the subject of mails about the client
    email: MailableEmail | None = None
    phone: Phone | None = None
    address: Address | None = None
    ssn: Ssn | None = None
    date_of_birth: IsoDate | None = None
    status: ClientStatus | None = None
    assigned_preparer_id: uuid.UUID | None = None


class ClientUpdate(_SsnMixin, PatchModel):
    not_clearable = frozenset({"client_type", "name", "status", "address"})
    client_type: ClientType | None = None
    name: SingleLine | None = Field(None, min_length=1, max_length=200)
    email: MailableEmail | None = None
    phone: Phone | None = None
    address: AddressPatch | None = None
    ssn: Ssn | None = None
    date_of_birth: IsoDate | None = None
    status: ClientStatus | None = None
    assigned_preparer_id: uuid.UUID | None = None


class ContactCreate(RequestModel):
    name: SingleLine = Field(min_length=1, max_length=200)
    relationship: str | None = Field(None, max_length=50)
    email: MailableEmail | None = None
    phone: Phone | None = None
    is_primary: bool = False

    @field_validator("phone")
    @classmethod
    def valid_phone(cls, value: str | None) -> str | None:
        return _check_phone(value)


class ContactUpdate(PatchModel):
    not_clearable = frozenset({"name", "is_primary"})
    name: SingleLine | None = Field(None, min_length=1, max_length=200)
    relationship: str | None = Field(None, max_length=50)
    email: MailableEmail | None = None
    phone: Phone | None = None
    is_primary: bool | None = None

    @field_validator("phone")
    @classmethod
    def valid_phone(cls, value: str | None) -> str | None:
        return _check_phone(value)


# ---- read models: what the API answers ------------------------------------------------------------------------

class ClientSummary(ReadModel):
    """A client in a list (`fields=` picks among these: CLIENT_LIST_SPEC.output_fields is checked against them)."""

    id: uuid.UUID
    account_number: str = Field(examples=["C-2024-00042"])
    client_type: ClientType
    name: str
    email: str | None
    phone: str | None
    status: ClientStatus
    assigned_preparer_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime


class AddressOut(ReadModel):
    street1: str
    street2: str | None = None
    city: str
    state: str
    zip: str


class ContactOut(ReadModel):
    id: uuid.UUID
    name: str
    relationship: str | None
    email: str | None
    phone: str | None
    is_primary: bool


class ClientDetail(ReadModel):
    id: uuid.UUID
    account_number: str
    client_type: ClientType
    name: str
    email: str | None
    phone: str | None
    address: AddressOut | None
    ssn_last4: str | None = Field(description="The SSN itself is never answered")
    date_of_birth: date | None
    status: ClientStatus
    identity_verification_status: str
    assigned_preparer_id: uuid.UUID | None
    contacts: list[ContactOut]
    created_at: datetime
    updated_at: datetime
