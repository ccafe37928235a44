"""`EmbeddedStack`: Postgres, Temporal, S3 and the mail capture under one data directory, plus the env the app reads.

`make run` uses the usual fixed ports and `.data/`; tests use free ports and a temporary directory, so several
runs can go side by side. A part whose variable is already set (DATABASE_URL, TEMPORAL_ADDRESS, S3_ENDPOINT_URL)
is not started: the external one is used as is.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from devstack.ports import HOST, free_port, require_free
from devstack.postgres import start_postgres
from devstack.process import StartupError
from devstack.s3 import DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY, ensure_bucket, start_s3
from devstack.temporal import start_temporal
from sandboxes.mail_capture import start_mail_capture
from settings import Settings

log = logging.getLogger(__name__)

# The usual ports of `make run` (the defaults in settings.py and the tools' own defaults).
FIXED_PORTS = {"temporal": 7233, "temporal_ui": 8233, "s3": 8333, "smtp": 8025, "mail_http": 8026}
PORT_ATTEMPTS = 3  # starts of one part on free ports, when another process takes a port first
# How a part says a port was taken: the kernel's bind error (Python's OSError, Go's "bind: ..."), and weed's own
# check before it binds.
PORT_TAKEN = ("address already in use", "port allocation failed")


def _setting(name: str) -> str:
    """The app's own value for a setting: its environment variable, else the default in settings.py."""
    return os.environ.get(name.upper()) or str(Settings.model_fields[name].default)


class EmbeddedStack:
    def __init__(self, data_dir: Path, fixed_ports: bool = False) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.fixed_ports = fixed_ports
        self.env: dict[str, str] = {}
        self.postgres = self.temporal = self.s3 = self.mail = None
        self._started: list = []  # handles in start order; stopped in reverse
        self.timings: dict[str, float] = {}  # seconds each part took to start, for the log

    def __enter__(self) -> "EmbeddedStack":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "EmbeddedStack":
        began = time.monotonic()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        external = {name: os.environ.get(name) for name in ("DATABASE_URL", "TEMPORAL_ADDRESS", "S3_ENDPOINT_URL")}
        ports = self._ports(external)
        namespace, bucket, region = _setting("temporal_namespace"), _setting("s3_bucket"), _setting("s3_region")
        env = {"TEMPORAL_NAMESPACE": namespace, "S3_BUCKET": bucket, "S3_REGION": region,
               "DATA_DIR": str(self.data_dir)}
        try:
            if external["DATABASE_URL"]:
                env["DATABASE_URL"] = external["DATABASE_URL"]
            else:
                self.postgres = self._start("postgres", start_postgres, self.data_dir / "postgres")
                env["DATABASE_URL"] = self.postgres.url
            self._timed("migrations", _migrate, env["DATABASE_URL"])  # an external database too: same schema

            if external["TEMPORAL_ADDRESS"]:
                env["TEMPORAL_ADDRESS"] = external["TEMPORAL_ADDRESS"]
                if os.environ.get("TEMPORAL_UI_URL"):
                    env["TEMPORAL_UI_URL"] = os.environ["TEMPORAL_UI_URL"]
            else:
                self.temporal = self._start_on(ports, ("temporal",), "temporal", lambda: start_temporal(
                    self.data_dir / "temporal", ports["temporal"], ports.get("temporal_ui"), namespace))
                env["TEMPORAL_ADDRESS"] = self.temporal.address
                env["TEMPORAL_UI_URL"] = self.temporal.ui_url or ""  # headless: no UI to link to

            if external["S3_ENDPOINT_URL"]:
                env["S3_ENDPOINT_URL"] = external["S3_ENDPOINT_URL"]
            else:
                self.s3 = self._start_on(ports, ("s3",), "s3", lambda: start_s3(self.data_dir / "s3", ports["s3"]))
                ensure_bucket(self.s3.endpoint_url, bucket, region)
                env.update(S3_ENDPOINT_URL=self.s3.endpoint_url, AWS_ACCESS_KEY_ID=DEV_ACCESS_KEY_ID,
                           AWS_SECRET_ACCESS_KEY=DEV_SECRET_ACCESS_KEY)

            self.mail = self._start_on(ports, ("smtp", "mail_http"), "mail", lambda: start_mail_capture(
                self.data_dir / "mail", ports["smtp"], ports["mail_http"]))
            env.update(SMTP_HOST=HOST, SMTP_PORT=str(self.mail.smtp_port), MAIL_CAPTURE_URL=self.mail.http_url)
        except BaseException:
            self.stop()
            raise
        self.env = env
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.timings.items())
        log.info("embedded stack started in %.1f s (%s s) in %s", time.monotonic() - began, parts, self.data_dir)
        return self

    def stop(self) -> None:
        """Stop what was started, newest first. Safe to call twice; one failing part does not block the rest."""
        began = time.monotonic()
        started, self._started = self._started, []
        # SIGTERM every server process first so their shutdowns (seconds each) overlap; then wait in order.
        for handle in reversed(started):
            if hasattr(handle, "request_stop"):
                handle.request_stop()
        errors = []
        for handle in reversed(started):
            try:
                handle.stop()
            except Exception as exc:
                log.exception("stopping %s failed", type(handle).__name__)
                errors.append(exc)
        if started:
            log.info("embedded stack stopped in %.1f s", time.monotonic() - began)
        if errors:
            raise errors[0]

    def _timed(self, name: str, func, *args):
        began = time.monotonic()
        result = func(*args)
        self.timings[name] = time.monotonic() - began
        return result

    def _start(self, name: str, start, *args):
        handle = self._timed(name, start, *args)
        self._started.append(handle)
        return handle

    def _start_on(self, ports: dict[str, int], names: tuple[str, ...], part: str, start):
        """Start a part that listens on `ports[name]` for `names`. With free ports (tests), a port handed out
        at the start can be taken before the part binds it (the kernel reuses it for a Temporal service or an
        outgoing connection meanwhile): the part then fails to bind (PORT_TAKEN), and is started again
        on new ports. Fixed ports were checked free just before, and a conflict there is the user's to see."""
        for attempt in range(1, PORT_ATTEMPTS + 1):
            try:
                return self._start(part, start)
            except (StartupError, OSError) as exc:
                if self.fixed_ports or attempt == PORT_ATTEMPTS or not _port_taken(exc):
                    raise
                log.warning("%s: a port was taken before it started (%s); starting it on new ports", part,
                            ", ".join(str(ports[name]) for name in names))
                ports.update({name: free_port() for name in names})

    def _ports(self, external: dict[str, str | None]) -> dict[str, int]:
        if not self.fixed_ports:
            return {name: free_port() for name in FIXED_PORTS if name != "temporal_ui"}  # tests need no UI
        skipped = {"temporal", "temporal_ui"} if external["TEMPORAL_ADDRESS"] else set()
        skipped |= {"s3"} if external["S3_ENDPOINT_URL"] else set()
        ports = {name: port for name, port in FIXED_PORTS.items() if name not in skipped}
        require_free(ports)
        return ports


def _port_taken(error: Exception) -> bool:
    text = str(error).lower()
    return any(marker in text for marker in PORT_TAKEN)


def _migrate(database_url: str) -> None:
    """Bring the schema to head. Imported lazily: migrations/ is written separately and may not exist yet."""
    try:
        from migrations.runner import upgrade_to_head
    except ModuleNotFoundError as exc:
        if exc.name not in ("migrations", "migrations.runner"):
            raise
        log.warning("migrations.runner not found: database left without migrations")
        return
    upgrade_to_head(database_url)
