"""The child process that reads a PDF's text layer (domain/document/pdf_text.py starts it): run as a script, not
imported. It puts its own resource limits on itself before it imports the parser or reads a byte of the file, so
whatever the PDF does to the parser stays inside them:

    python -I pdf_text_process.py <cpu seconds> <memory bytes> <max pages>   < file.pdf   > {"text": "..."}

Exit status: 0 with the text on stdout ("" for a PDF the parser rejects: no text layer to read); 3 when the
memory limit was reached; killed by SIGXCPU/SIGKILL when the CPU limit was. Kept free of project imports, so the
child starts with the interpreter and pypdf only.
"""

import json
import os
import resource
import sys

MEMORY_EXHAUSTED = 3


def main() -> int:
    cpu_seconds, memory_bytes, max_pages = (int(arg) for arg in sys.argv[1:4])
    # CPU: SIGXCPU (which kills) at the soft limit, SIGKILL one second later. Memory: the address space, so an
    # allocation past it fails with MemoryError. No file is written and no process started.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError

        try:
            reader = PdfReader(os.fdopen(0, "rb", closefd=False))
            if reader.is_encrypted:
                reader.decrypt("")
            text = "\n".join((page.extract_text() or "") for page in reader.pages[:max_pages])
        except (PdfReadError, ValueError, KeyError, TypeError, OSError, NotImplementedError, RecursionError):
            text = ""  # not a PDF the parser can read: no text layer, as for a scan
        sys.stdout.write(json.dumps({"text": text}))
    except MemoryError:
        return MEMORY_EXHAUSTED
    return 0


if __name__ == "__main__":
    sys.exit(main())
