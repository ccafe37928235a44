"""PDFs are read in a child process with CPU, memory and wall-time limits (domain/document/pdf_text.py): a hostile
PDF fails its own document's processing with a clear reason, never the worker, and the next document goes on."""

from __future__ import annotations

import io

import pytest

from domain.document.pdf_text import PdfLimits, PdfRefused, read_pdf_text
from tests.document.conftest import upload, wait_processed
from tests.document.forms import form_pdf
from tests.document.hostile_pdfs import busy_pdf, inflating_pdf
from tests.document.test_document_api import W2_VALUES

MB = 1024 * 1024


def _read(pdf: bytes, limits: PdfLimits) -> str:
    return read_pdf_text(io.BytesIO(pdf), limits, max_pages=6)


def test_a_pdf_is_read_in_a_child_within_its_limits():
    assert "Wages, tips, other compensation" in _read(form_pdf("W-2", "Acme Corp", W2_VALUES), PdfLimits())
    assert _read(b"%PDF-1.7\nnot a pdf at all", PdfLimits()) == ""  # malformed: no text layer, no failure

    with pytest.raises(PdfRefused) as refused:
        _read(inflating_pdf(), PdfLimits(memory_bytes=128 * MB))  # 70 KB that inflate to 70 MB
    assert refused.value.limit == "memory" and "128 MB" in refused.value.detail
    with pytest.raises(PdfRefused) as refused:
        _read(busy_pdf(), PdfLimits(cpu_seconds=1))
    assert refused.value.limit == "cpu" and "1 s of CPU" in refused.value.detail
    with pytest.raises(PdfRefused) as refused:
        _read(busy_pdf(), PdfLimits(wall_seconds=0.5))
    assert refused.value.limit == "time"


async def test_a_hostile_pdf_fails_its_own_processing_and_the_worker_goes_on(tp, office):
    saved = tp.settings.pdf_read_memory_mb
    tp.settings.pdf_read_memory_mb = 128
    await tp.restart_workers()
    try:
        hostile = (await upload(tp, office.admin, inflating_pdf(), filename="W2_bomb_2024.pdf",
                                client_id=office.client["id"], tax_year=2024)).json()["data"]
        document = await wait_processed(tp, office.admin, hostile["id"], timeout_s=60)
        assert document["status"] == "review_required"
        assert document["review_reason"].startswith("not read: the PDF needed more than 128 MB to read")

        fine = (await upload(tp, office.admin, form_pdf("W-2", "Acme Corp", W2_VALUES),
                             client_id=office.client["id"], tax_year=2024)).json()["data"]
        document = await wait_processed(tp, office.admin, fine["id"], timeout_s=60)
        assert document["status"] == "processed", document
    finally:
        tp.settings.pdf_read_memory_mb = saved
        await tp.restart_workers()
