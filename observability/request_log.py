"""One line per API request, by route template, with its status and duration: what the `make run` terminal
shows and what a log search starts from (the line carries the request, correlation and trace ids)."""

from __future__ import annotations

import logging

log = logging.getLogger("taxpractice.request")


def log_request(method: str, path: str, route: str, status: int, duration_s: float) -> None:
    # The path without its query string (api/access_log.py says why); ids in a path are not personal data.
    log.info("%s %s %s %.1fms", method, path, status, duration_s * 1000,
             extra={"route": route, "status": status, "duration_ms": round(duration_s * 1000, 1)})
