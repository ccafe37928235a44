"""Request bodies of the documents API (uploads are multipart and read by api/uploads.py)."""

import uuid

from pydantic import Field, field_validator

from api.schemas.base import MailableEmail, RequestModel, SingleLine, one_of
from api.schemas.client import _check_phone
from domain.document.batch import REQUESTED_RETURN_TYPES


class DocumentUpdate(RequestModel):
    document_type: str | None = Field(None, min_length=1, max_length=30)  # "" is not a way to clear it
    tax_year: int | None = None
    return_id: uuid.UUID | None = None


class FieldUpdate(RequestModel):
    value: SingleLine | None = Field(None, max_length=500)
    verified: bool | None = None


class CreateClientFromBatch(RequestModel):
    # The new client's name: one line, as ClientCreate's.
    first_name: SingleLine = Field(min_length=1, max_length=100)
    last_name: SingleLine = Field(min_length=1, max_length=100)
    email: MailableEmail | None = None
    phone: str | None = Field(None, max_length=40)
    tax_year: int
    # "individual" (the spec's example) or an Appendix A return type; see docs/document.md for the mapping.
    return_type: one_of(REQUESTED_RETURN_TYPES) = "individual"

    @field_validator("phone")
    @classmethod
    def valid_phone(cls, value: str | None) -> str | None:
        return _check_phone(value)
