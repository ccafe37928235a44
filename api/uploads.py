"""Streaming multipart uploads with a hard cap, for the document endpoints.

Starlette's `request.form()` reads the whole body before anyone can count it; this reader counts the file's
bytes as they arrive and stops at the first byte over the cap (413), hashing them and spooling them to a
temporary file (1 MiB in memory at most) on the way. Only one file part is accepted; the other form fields
are small and capped too.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.multipart import MultipartParser, parse_options_header

from domain.errors import DomainError, FieldError, ValidationFailed

SPOOL_IN_MEMORY = 1024 * 1024
MAX_FIELD_BYTES = 8 * 1024
MAX_FIELDS = 20
# Boundaries, part headers and the small fields around the file.
ENVELOPE_ALLOWANCE = 64 * 1024


class PayloadTooLarge(DomainError):
    def __init__(self, limit: int):
        super().__init__(f"The file exceeds the upload limit of {limit} bytes", [], 413, "payload_too_large",
                         "Payload Too Large")


class UnsupportedMediaType(DomainError):
    def __init__(self):
        super().__init__("Uploads must be multipart/form-data", [], 415, "unsupported_media_type",
                         "Unsupported Media Type")


@dataclass
class ReceivedUpload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    size: int = 0
    sha256: str = ""
    spool: tempfile.SpooledTemporaryFile | None = None
    has_file: bool = False

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()


_FILENAME = re.compile(rb'filename="((?:[^"\\]|\\.)*)"|filename=([^;\s]+)', re.IGNORECASE)


def _raw_filename(disposition: bytes) -> str | None:
    """The file name exactly as sent. python-multipart quietly cuts Windows paths down to their last part;
    a path in a name is refused here instead (sniffing.safe_filename), so it must be seen whole."""
    match = _FILENAME.search(disposition)
    if match is None:
        return None
    raw = match.group(1) if match.group(1) is not None else match.group(2)
    return raw.replace(b'\\"', b'"').decode("utf-8", "replace")


class _Abort(Exception):
    def __init__(self, error: DomainError):
        self.error = error


async def receive_upload(request: Request, max_file_bytes: int, file_field: str = "file") -> ReceivedUpload:
    """Read the multipart body once, as it streams in. The caller must `close()` the result."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType()
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_file_bytes + ENVELOPE_ALLOWANCE:
        raise PayloadTooLarge(max_file_bytes)

    upload = ReceivedUpload(spool=tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY))
    digest = hashlib.sha256()
    part: dict = {}
    header_name: list[bytes] = []
    header_value: list[bytes] = []
    field_bytes = 0

    def on_part_begin() -> None:
        part.clear()
        part.update(headers={}, data=[], name=None, is_file=False)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.append(data[start:end])

    def on_header_end() -> None:
        part["headers"][b"".join(header_name).lower()] = b"".join(header_value)
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(part["headers"].get(b"content-disposition", b""))
        name = disposition.get(b"name", b"").decode("utf-8", "replace")
        part["name"] = name
        if name == file_field:
            if upload.has_file:
                raise _Abort(ValidationFailed("Only one file per upload",
                                              [FieldError(file_field, "duplicate", "send exactly one file")]))
            upload.has_file, part["is_file"] = True, True
            upload.filename = _raw_filename(part["headers"].get(b"content-disposition", b""))
        elif len(upload.fields) >= MAX_FIELDS:
            raise _Abort(ValidationFailed("Too many form fields"))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        nonlocal field_bytes
        chunk = data[start:end]
        if part["is_file"]:
            upload.size += len(chunk)
            if upload.size > max_file_bytes:
                raise _Abort(PayloadTooLarge(max_file_bytes))
            digest.update(chunk)
            upload.spool.write(chunk)
        else:
            field_bytes += len(chunk)
            if field_bytes > MAX_FIELD_BYTES:
                raise _Abort(ValidationFailed("Form fields are too large"))
            part["data"].append(chunk)

    def on_part_end() -> None:
        if not part["is_file"] and part.get("name"):
            try:
                upload.fields[part["name"]] = b"".join(part["data"]).decode("utf-8").strip()
            except UnicodeDecodeError:
                raise _Abort(ValidationFailed(errors=[FieldError(part["name"], "invalid_format",
                                                                 "form fields must be UTF-8")])) from None

    try:
        # Inside the try: the constructor refuses a boundary over 256 characters (RFC 2046 allows 70).
        parser = MultipartParser(boundary, {
            "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
            "on_header_end": on_header_end, "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data, "on_part_end": on_part_end,
        })
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except _Abort as abort:
        upload.close()
        raise abort.error from None
    except Exception as err:  # the multipart parser's own errors: a malformed body or boundary
        upload.close()
        if isinstance(err, DomainError):
            raise
        raise ValidationFailed("The multipart body is malformed") from None
    if not upload.has_file:
        upload.close()
        raise ValidationFailed(errors=[FieldError(file_field, "required", "a file is required")])
    upload.sha256 = digest.hexdigest()
    upload.spool.seek(0)
    return upload
