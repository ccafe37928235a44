"""`/metrics` on a port of its own per process (the API 9100, the workers 9101 by default), never on the public
API: the request counts by route and the business gauges are for the operator's Prometheus, not for callers."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger(__name__)


def serve_metrics(port: int | None, host: str) -> None:
    """Start the exposition server in a daemon thread; a port of 0/None turns it off (the tests' in-process app)."""
    if not port:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as exc:  # a second process on this host: metrics are worth less than the process itself
        log.warning("metrics not served: port %s is taken (%s)", port, exc)
        return
    log.info("metrics on http://%s:%s/metrics", host, port)
