"""Hand-built PDFs that attack the reader: valid structure, hostile content (tests/document/test_pdf_limits.py)."""

from __future__ import annotations

import zlib


def pdf_with_content(content: bytes, compress: bool = True) -> bytes:
    """A one-page PDF whose page content stream is `content` (Flate-compressed: a small file that inflates to
    `len(content)` bytes when read)."""
    stream = zlib.compress(content, 9) if compress else content
    flate = b" /Filter /FlateDecode" if compress else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d%s >>\nstream\n" % (len(stream), flate) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def inflating_pdf(inflated_mb: int = 70) -> bytes:
    """About 70 KB that inflate to `inflated_mb` MB of content (under pypdf's own 75 MB cap per stream)."""
    return pdf_with_content(b" " * (inflated_mb * 1024 * 1024))


def busy_pdf(operators: int = 400_000) -> bytes:
    """A content stream of many text-showing operators: cheap to store, long to interpret."""
    return pdf_with_content(b"BT /F1 1 Tf 0 0 Td (a) Tj ET\n" * operators)
