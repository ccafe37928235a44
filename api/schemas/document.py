"""Request bodies of the documents API (uploads are multipart and read by api/uploads.py)."""

import uuid
from datetime import datetime

from pydantic import Field, field_validator

from api.openapi import ReadModel
from api.schemas.base import MailableEmail, PatchModel, RequestModel, SingleLine, one_of
from api.schemas.client import Phone, _check_phone
from domain.document.batch import BATCH_ID_PATTERN, REQUESTED_RETURN_TYPES
from domain.document.service import FOLDER_AREAS, STATUSES
from domain.document.types import DOCUMENT_TYPES
from domain.tax_return.service import EARLIEST_TAX_YEAR


class DocumentUpdate(PatchModel):
    not_clearable = frozenset({"document_type", "tax_year"})
    # An Appendix A type, or a spelling of one (w2, 1099_div): the service reads it (400 for another).
    document_type: str | None = Field(None, min_length=1, max_length=30,
                                      json_schema_extra={"enum": sorted(DOCUMENT_TYPES)})
    tax_year: int | None = None
    return_id: uuid.UUID | None = None


class FieldUpdate(PatchModel):
    not_clearable = frozenset({"verified"})
    value: SingleLine | None = Field(None, max_length=500)
    verified: bool | None = None


class CreateClientFromBatch(RequestModel):
    # The new client's name: one line, as ClientCreate's.
    first_name: SingleLine = Field(min_length=1, max_length=100)
    last_name: SingleLine = Field(min_length=1, max_length=100)
    email: MailableEmail | None = None
    phone: Phone | None = Field(None, max_length=40)
    tax_year: int = Field(json_schema_extra={"minimum": EARLIEST_TAX_YEAR},
                          description="At most the current year")
    # "individual" (the spec's example) or an Appendix A return type; see docs/document.md for the mapping.
    return_type: one_of(REQUESTED_RETURN_TYPES) = "individual"

    @field_validator("phone")
    @classmethod
    def valid_phone(cls, value: str | None) -> str | None:
        return _check_phone(value)


# ---- uploads: multipart/form-data bodies (read by api/uploads.py, streamed, not by pydantic) ------------------

def multipart_body(fields: dict[str, dict], required: list[str], description: str) -> dict:
    """An operation's requestBody for a streamed multipart upload: its `file` part and form fields."""
    properties = {"file": {"type": "string", "format": "binary",
                           "description": "PDF, JPEG, PNG, HEIC, DOCX, XLSX or CSV, recognised from its bytes; "
                                          "at most 50 MB"}, **fields}
    return {"required": True, "description": description, "content": {"multipart/form-data": {"schema": {
        "type": "object", "properties": properties, "required": ["file", *required],
        "additionalProperties": False}, "encoding": {"file": {"contentType": "application/octet-stream"}}}}}


UPLOAD_BODY = multipart_body({
    "client_id": {"type": "string", "format": "uuid"},
    "return_id": {"type": "string", "format": "uuid"},
    "tax_year": {"type": "integer", "minimum": 2000, "description": "At most next year"},
    "document_type": {"type": "string", "enum": sorted(DOCUMENT_TYPES),
                      "description": "A hint; the type is recognised from the content"},
}, ["client_id", "tax_year"], "The file and what it belongs to")

PENDING_UPLOAD_BODY = multipart_body({
    "batch_id": {"type": "string", "pattern": BATCH_ID_PATTERN,
                 "description": "Groups the uploads that will become one client's documents"},
}, ["batch_id"], "The file and its batch")


# ---- read models ----------------------------------------------------------------------------------------------

class DocumentOut(ReadModel):
    """A document as listed (DOCUMENT_LIST_SPEC.output_fields)."""

    id: uuid.UUID
    client_id: uuid.UUID
    return_id: uuid.UUID | None
    tax_year: int | None
    document_type: str | None
    document_subtype: str | None
    filename: str
    file_size: int
    mime_type: str
    sha256: str
    status: one_of(STATUSES)
    review_reason: str | None
    extraction_confidence: float | None
    source: str
    folder_area: one_of(FOLDER_AREAS) | None = Field(description="where a portal import found it (docs/portal/)")
    folder_path: str | None = Field(description="its folder in the portal, kept as the portal named it")
    uploaded_at: datetime
    processed_at: datetime | None


class FieldOut(ReadModel):
    id: uuid.UUID
    field_name: str
    value: str | None
    confidence: float
    needs_review: bool
    verified: bool
    source: str
    original_value: str | None
    corrected_by: uuid.UUID | None
    corrected_at: datetime | None
    verified_by: uuid.UUID | None
    verified_at: datetime | None


class ExtractionOut(ReadModel):
    id: uuid.UUID
    status: str = Field(examples=["extracted", "needs_review", "verified"])
    source: str
    overall_confidence: float | None
    fields: list[FieldOut]


class DocumentDetail(DocumentOut):
    extraction: ExtractionOut | None


class DocumentUploaded(ReadModel):
    id: uuid.UUID
    status: one_of(STATUSES)
    filename: str
    file_size: int
    mime_type: str
    sha256: str
    uploaded_at: datetime


class ChecklistItemOut(ReadModel):
    document_type: str
    description: str
    status: str = Field(examples=["received", "missing"])
    document_id: uuid.UUID | None


class UnexpectedDocument(ReadModel):
    document_type: str
    description: str
    document_id: uuid.UUID


class ChecklistOut(ReadModel):
    expected: list[ChecklistItemOut]
    unexpected: list[UnexpectedDocument]
    complete: bool


class PendingDocumentOut(ReadModel):
    id: uuid.UUID
    upload_batch_id: str
    original_filename: str
    file_size_bytes: int
    mime_type: str
    sha256: str
    document_type: str | None
    tax_year: int | None
    s3_key: str
    source: str
    uploaded_at: datetime


class BatchDocument(ReadModel):
    id: uuid.UUID
    original_filename: str
    document_type: str | None
    tax_year: int | None
    mime_type: str
    file_size_bytes: int


class BatchOut(ReadModel):
    batch_id: str
    document_count: int
    uploaded_at: datetime
    documents: list[BatchDocument]


class CreatedClient(ReadModel):
    id: uuid.UUID
    account_number: str
    first_name: str
    last_name: str
    name: str


class CreatedReturn(ReadModel):
    id: uuid.UUID
    tax_year: int
    return_type: str = Field(description="As requested (`individual` …)")
    form: str = Field(description="The return type it became (1040 …)")
    status: str


class ClientFromBatch(ReadModel):
    client: CreatedClient
    # `return` is a Python keyword: the field is named return_ and answered as "return".
    return_: CreatedReturn = Field(alias="return")
    documents_assigned: int
