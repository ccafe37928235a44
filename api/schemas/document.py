"""Request bodies of the documents API (uploads are multipart and read by api/uploads.py)."""

import uuid

from pydantic import Field

from api.schemas.base import RequestModel


class DocumentUpdate(RequestModel):
    document_type: str | None = Field(None, max_length=30)
    tax_year: int | None = None
    return_id: uuid.UUID | None = None


class FieldUpdate(RequestModel):
    value: str | None = Field(None, max_length=500)
    verified: bool | None = None


class CreateClientFromBatch(RequestModel):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: str | None = Field(None, max_length=320)
    phone: str | None = Field(None, max_length=40)
    tax_year: int
    return_type: str = Field("individual", max_length=20)
