"""What a file is, from its bytes (never its name or the caller's Content-Type), and what is refused.

Recognised: PDF, JPEG, PNG, HEIC, DOCX, XLSX, CSV. Refused: executables and scripts (even renamed), empty
files, truncated PDFs, and anything else. Works on a seekable file so a 50 MB upload is checked from disk.
"""

from __future__ import annotations

import csv
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from domain.errors import FieldError, ValidationFailed

PDF, JPEG, PNG, HEIC = "application/pdf", "image/jpeg", "image/png", "image/heic"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"

EXTENSIONS = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png", HEIC: ".heic", DOCX: ".docx", XLSX: ".xlsx", CSV: ".csv"}

_EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"#!", b"\xcf\xfa\xed\xfe", b"\xfe\xed\xfa\xcf", b"\xca\xfe\xba\xbe")
_HEIC_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc", b"hevx")
# A PDF ends with %%EOF, possibly followed by a line end and some trailing garbage that readers tolerate.
_PDF_TAIL_BYTES = 1024
_CSV_SAMPLE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Sniffed:
    mime_type: str
    kind: str  # pdf | image | office | csv


def _refuse(code: str, message: str) -> ValidationFailed:
    return ValidationFailed("The file was refused", [FieldError("file", code, message)])


def sniff(stream: BinaryIO, size: int) -> Sniffed:
    """Identify the file or raise ValidationFailed (400) saying why it is refused."""
    if size == 0:
        raise _refuse("empty_file", "The file is empty")
    stream.seek(0)
    head = stream.read(64)
    if head.startswith(_EXECUTABLE_MAGIC):
        raise _refuse("executable", "Executables and scripts are not accepted, whatever their name")
    if head.startswith(b"%PDF-"):
        stream.seek(max(size - _PDF_TAIL_BYTES, 0))
        if b"%%EOF" not in stream.read(_PDF_TAIL_BYTES):
            raise _refuse("truncated_pdf", "The PDF is incomplete (no %%EOF marker): upload it again")
        return Sniffed(PDF, "pdf")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(JPEG, "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(PNG, "image")
    if head[4:8] == b"ftyp" and head[8:12] in _HEIC_BRANDS:
        return Sniffed(HEIC, "image")
    if head.startswith(b"PK\x03\x04"):
        office = _office_type(stream)
        if office:
            return Sniffed(office, "office")
        raise _refuse("unsupported_type", "ZIP archives are accepted only as DOCX or XLSX documents")
    if _looks_like_csv(stream):
        return Sniffed(CSV, "csv")
    raise _refuse("unsupported_type", "Accepted files are PDF, JPEG, PNG, HEIC, DOCX, XLSX and CSV")


def _office_type(stream: BinaryIO) -> str | None:
    stream.seek(0)
    try:
        with zipfile.ZipFile(stream) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "[Content_Types].xml" not in names:
        return None
    if any(n.startswith("word/") for n in names):
        return DOCX
    if any(n.startswith("xl/") for n in names):
        return XLSX
    return None


def _looks_like_csv(stream: BinaryIO) -> bool:
    """Valid UTF-8 text (a cut at the sample's end is allowed), no NULs, and at least one delimiter per line."""
    stream.seek(0)
    sample = stream.read(_CSV_SAMPLE_BYTES)
    if b"\x00" in sample:
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(sample) - 3:
            return False
        text = sample[: err.start].decode("utf-8")
    text = text.lstrip("\ufeff")
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if len(lines) < 1:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return False
    return all(dialect.delimiter in line for line in lines[:-1] or lines)


# Unicode categories a file name must not hold: control (Cc), format (Cf: bidi overrides, zero-width characters),
# line and paragraph separators (Zl, Zp).
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def safe_filename(raw: str | None) -> str:
    """The caller's file name as a label only: a name with a path in it is refused, not silently trimmed."""
    if raw is None or not raw.strip():
        raise ValidationFailed("The file needs a name", [FieldError("file", "required", "filename is missing")])
    name = raw.strip()
    drive_letter = len(name) > 1 and name[1] == ":" and name[0].isalpha()
    if "/" in name or "\\" in name or name in (".", "..") or drive_letter:
        raise ValidationFailed("The file name must not contain a path",
                               [FieldError("file", "invalid_filename", "file name must not contain a path")])
    # Control characters, and format characters such as the bidi override U+202E, which makes
    # "invoice<U+202E>fdp.exe" read as "invoiceexe.pdf" to the staff member about to open it.
    if len(name) > 255 or any(unicodedata.category(ch) in INVISIBLE_CATEGORIES for ch in name):
        raise ValidationFailed("The file name is not acceptable",
                               [FieldError("file", "invalid_filename", "file name is too long or has control, "
                                                                       "format or line-separator characters")])
    return name
