"""Reading a W-2's text layer in a resource-limited child process against pypdf in this process (the baseline)."""

from __future__ import annotations

import io
import statistics
import time

from bench.harness import BenchEnv, sized
from domain.document.extraction import MAX_PAGES
from domain.document.pdf_text import PdfLimits, read_pdf_text

READS = sized(40, smallest=3)


def _in_process(pdf: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join((page.extract_text() or "") for page in PdfReader(io.BytesIO(pdf)).pages[:MAX_PAGES])


def _timed(read, pdf: bytes) -> list[float]:
    times = []
    for _ in range(READS):
        began = time.perf_counter()
        read(pdf)
        times.append((time.perf_counter() - began) * 1000)
    return times


async def run(env: BenchEnv) -> None:
    from tests.document.forms import form_pdf
    from tests.document.test_document_api import W2_VALUES

    pdf = form_pdf("W-2", "Acme Corp", W2_VALUES)
    limits = PdfLimits()
    baseline = _timed(_in_process, pdf)
    child = _timed(lambda data: read_pdf_text(io.BytesIO(data), limits, MAX_PAGES), pdf)
    for name, times in (("in process (baseline)", baseline), ("child process with limits", child)):
        print(f"   {name:28} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms   "
              f"({READS} reads; 2 shared cores, noisy)")
