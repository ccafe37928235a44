"""A PDF's text layer, read in a child process with CPU, memory and wall-time limits (issue 13).

A PDF is caller-supplied input to a complex parser: a hostile or malformed one can make pypdf spin, allocate
without bound or recurse. Parsed in the API process (pending uploads) or a worker thread, that took the process
with it, or outlived the activity's timeout. Here each read is a fresh `python -I` child
(domain/document/pdf_text_process.py) that limits itself before touching the file; the parent kills it at the
wall-time limit. A read past a limit raises `PdfRefused` naming the limit, for that document alone: the caller
records it (the document goes to a person with the reason) and goes on.

What it costs: a process start and the pypdf import per read (bench/bench_pdf_text.py: a median 653 ms against
3 ms in process, on 2 shared cores under heavy load), paid by document processing and by a pending upload's quick
classification, not by any other request. (multiprocessing's fork server would spare the import, but each of its
children imports the parent's main module first, the whole worker or API, before any limit applies.)
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

CHILD = str(Path(__file__).with_name("pdf_text_process.py"))
MEMORY_EXHAUSTED = 3  # the child's exit status when it ran out of its memory


@dataclass(frozen=True)
class PdfLimits:
    cpu_seconds: int = 10
    memory_bytes: int = 512 * 1024 * 1024
    wall_seconds: float = 30.0


class PdfRefused(Exception):
    """The PDF was not read: it took more than a limit allows (`limit`: cpu | memory | time | crash)."""

    def __init__(self, limit: str, detail: str):
        super().__init__(detail)
        self.limit, self.detail = limit, detail


def _refusal(returncode: int, limits: PdfLimits) -> PdfRefused:
    if returncode == MEMORY_EXHAUSTED:
        return PdfRefused("memory", f"the PDF needed more than {limits.memory_bytes // (1024 * 1024)} MB to read")
    if returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return PdfRefused("cpu", f"the PDF needed more than {limits.cpu_seconds} s of CPU to read")
    return PdfRefused("crash", f"the PDF reader failed (exit status {returncode})")


def read_pdf_text(stream: BinaryIO, limits: PdfLimits, max_pages: int) -> str:
    """The text layer of the first pages; '' for a scan or a PDF the parser rejects. PdfRefused past a limit.
    Blocking: run it in a thread."""
    try:
        stream.fileno()  # a real file (a SpooledTemporaryFile rolls over to one here): the child reads it directly
        file, owned = stream, False
    except (AttributeError, io.UnsupportedOperation):
        file, owned = tempfile.TemporaryFile(), True
        stream.seek(0)
        shutil.copyfileobj(stream, file)
    try:
        file.seek(0)
        try:
            done = subprocess.run(
                [sys.executable, "-I", CHILD, str(limits.cpu_seconds), str(limits.memory_bytes), str(max_pages)],
                stdin=file, capture_output=True, timeout=limits.wall_seconds, check=False)
        except subprocess.TimeoutExpired:  # run() killed it
            raise PdfRefused("time", f"the PDF took more than {limits.wall_seconds:g} s to read") from None
    finally:
        if owned:
            file.close()
    if done.returncode != 0:
        refusal = _refusal(done.returncode, limits)
        log.warning("PDF not read: %s", refusal.detail)
        raise refusal
    return json.loads(done.stdout)["text"]
