"""Structured logs: one JSON object per line in production (for a log shipper), a readable line in development;
both carry the context fields (observability/context.py).

What never reaches a log line: an SSN, a bearer token or a secret (masked by `scrub`, the last line of defence
behind code that does not log them in the first place), a query string (api/access_log.py), and SQL bound
parameters (SQLAlchemy's engine logger is held at WARNING, where it logs no statements).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone

from observability.context import log_fields

# What is masked wherever it appears in a message: SSNs/ITINs written with dashes or as nine digits standing alone,
# bearer credentials, JWTs (three base64url parts, the first an encoded JSON header), and key=value secrets.
_SCRUBBERS = (
    (re.compile(r"(?<![\w-])\d{3}-\d{2}-\d{4}(?![\w-])"), "***-**-****"),
    (re.compile(r"(?<![\w.-])\d{9}(?![\w.-])"), "*********"),
    (re.compile(r"(?i)\bbearer\s+[\w.~+/=-]+"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[\w-]+\.[\w-]+\.[\w-]+"), "[redacted-jwt]"),
    (re.compile(r"(?i)\b(password|secret|token|api_key|apikey|code)(\"?\s*[:=]\s*\"?)[^\s\",}&]+"), r"\1\2[redacted]"),
)
# Fields of a record that are ours, not the caller's `extra=`.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return text


def _message(record: logging.LogRecord) -> str:
    message = record.getMessage()
    if record.exc_info:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    return scrub(message)


def _extra(record: logging.LogRecord) -> dict:
    return {key: value for key, value in record.__dict__.items() if key not in _STANDARD and not key.startswith("_")}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"), "level": record.levelname.lower(), "logger": record.name,
                "message": _message(record)}
        line.update(log_fields())
        for key, value in _extra(record).items():
            line.setdefault(key, scrub(str(value)) if isinstance(value, str) else value)
        return json.dumps(line, default=str)


class Readable(logging.Formatter):
    """`12:00:01.123 INFO  taxpractice.api  message  request_id=… trace_id=…` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).strftime("%H:%M:%S.%f")[:-3]
        fields = {**log_fields(), **{k: v for k, v in _extra(record).items() if isinstance(v, (str, int, float))}}
        tail = "  ".join(f"{k}={scrub(str(v))}" for k, v in fields.items())
        return f"{stamp} {record.levelname:<5} {record.name}  {_message(record)}" + (f"  {tail}" if tail else "")


def configure(json_lines: bool, level: int = logging.INFO) -> None:
    """Once per process (the API, a worker, the CLI): the root logger and uvicorn's own loggers write through one
    handler to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if json_lines else Readable())
    handler._taxpractice = True
    root = logging.getLogger()
    # Only a handler of ours is replaced (create_app runs more than once in the tests, whose capture handlers stay).
    for old in [h for h in root.handlers if getattr(h, "_taxpractice", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # The request line is ours (observability/request_log.py: route template, duration, ids); uvicorn's is dropped.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    # Statements with their bound parameters are logged at INFO; parameters can be SSNs and tokens.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    # httpx logs every request at INFO with its full URL: a query string can carry a search term or a token, and
    # a portal sync's thousand downloads spent more CPU formatting these lines than hashing the bytes. The
    # outbound calls are in the traces (observability/tracing.py).
    logging.getLogger("httpx").setLevel(logging.WARNING)
