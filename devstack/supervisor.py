"""`make run`: the embedded stack on the usual ports, then the sandboxes, the worker and the API as children.

Each child logs to `.data/logs/<name>.log` and runs in its own session, so Ctrl-C reaches only this process,
which then stops everything in order: children (SIGTERM, SIGKILL after 10 s), then the stack. A child that
dies on its own brings everything down with its log tail and a non-zero exit.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from devstack.log_echo import LogEcho
from devstack.ports import HOST, PortInUseError, accepts_connections, require_free
from devstack.process import ManagedProcess, StartupError
from devstack.stack import EmbeddedStack
from settings import PROJECT_ROOT, Settings

API_PORT = 8000
API_READY_TIMEOUT_S = 60.0
PAYMENTS_PORT = 12111
SUREPREP_PORT = 8041
SMARTVAULT_PORT = 8042
EFILE_PORT = 8044
PERSONA_PORT = 8045
SMS_GATEWAY_PORT = 8046
ESIGN_PORT = 8043
PORTAL_PORT = 8047
WEBHOOK_RECEIVER_PORT = 8048
# Extra development sandboxes (fake third-party services): (name, argv) run before the worker and the API.
# The mail capture is not here: it runs inside the stack, so tests get it too.
SANDBOX_COMMANDS: list[tuple[str, list[str]]] = [
    # Stripe's API subset, the pay page and signed webhooks to the API (sandboxes/payments.py).
    ("payments", [sys.executable, "-m", "sandboxes.payments", "--port", str(PAYMENTS_PORT),
                  "--webhook-url", f"http://{HOST}:{API_PORT}/v1/webhooks/stripe",
                  "--webhook-secret", Settings().stripe_webhook_secret]),
    # SurePrep binders/OCR and SmartVault uploads, each sending signed webhooks to the API.
    ("sureprep", [sys.executable, "-m", "sandboxes.sureprep", "--port", str(SUREPREP_PORT),
                  "--webhook-url", f"http://{HOST}:{API_PORT}/v1/webhooks/sureprep"]),
    ("smartvault", [sys.executable, "-m", "sandboxes.smartvault", "--port", str(SMARTVAULT_PORT),
                    "--webhook-url", f"http://{HOST}:{API_PORT}/v1/webhooks/smartvault"]),
    # An IRS e-file transmitter: acknowledges after a few seconds, by poll and signed webhooks (sandboxes/efile.py).
    ("efile", [sys.executable, "-m", "sandboxes.efile", "--port", str(EFILE_PORT),
               "--webhook-url", f"http://{HOST}:{API_PORT}/v1/webhooks/efiling"]),
    # Persona's inquiries, hosted verification page and signed webhooks; the SMS gateway's capture.
    ("persona", [sys.executable, "-m", "sandboxes.persona", "--port", str(PERSONA_PORT),
                 "--webhook-url", f"http://{HOST}:{API_PORT}/v1/webhooks/persona"]),
    ("sms-gateway", [sys.executable, "-m", "sandboxes.sms_gateway", "--port", str(SMS_GATEWAY_PORT)]),
    # E-signatures: hosted signing pages, the link mailed to the mail capture, signed callbacks to the API.
    ("esign", [sys.executable, "-m", "sandboxes.esign", "--port", str(ESIGN_PORT),
               "--webhook-url", f"http://{HOST}:{API_PORT}/v1/webhooks/google"]),
    # A TaxDome-style client portal with the demo login (README); connections name its URL, no setting needed.
    ("portal", [sys.executable, "-m", "sandboxes.portal", "--port", str(PORTAL_PORT)]),
    # A local receiver for outbound webhooks, verifying our signatures with `standardwebhooks`
    # (sandboxes/webhook_receiver.py, docs/webhooks-outbound.md).
    ("webhook-receiver", [sys.executable, "-m", "sandboxes.webhook_receiver", "--port", str(WEBHOOK_RECEIVER_PORT)]),
]
# How the API and the worker reach the sandboxes (also written to stack.env for `make api` / `make worker`).
SANDBOX_ENV = {"STRIPE_API_BASE": f"http://{HOST}:{PAYMENTS_PORT}",
               "SUREPREP_API_URL": f"http://{HOST}:{SUREPREP_PORT}",
               "SMARTVAULT_API_URL": f"http://{HOST}:{SMARTVAULT_PORT}",
               "EFILING_API_URL": f"http://{HOST}:{EFILE_PORT}",
               "PERSONA_API_URL": f"http://{HOST}:{PERSONA_PORT}",
               "SMS_GATEWAY_URL": f"http://{HOST}:{SMS_GATEWAY_PORT}",
               "GOOGLE_API_URL": f"http://{HOST}:{ESIGN_PORT}"}

ENV_FILE_NAME = "stack.env"  # written while `make run` runs: `python -m devstack env` prints it


def child_commands(python: str) -> list[tuple[str, list[str]]]:
    return [
        *SANDBOX_COMMANDS,
        ("worker", [python, "worker.py"]),
        ("api", [python, "-m", "uvicorn", "api.app:create_app", "--factory",
                 "--host", HOST, "--port", str(API_PORT)]),
    ]


def run() -> int:
    """Run until Ctrl-C/SIGTERM (exit 0) or until a child dies (exit 1)."""
    _configure_logging()
    data_dir = Settings().data_dir.resolve()
    logs_dir = data_dir / "logs"
    stop_requested = _install_signal_handlers()

    stack = EmbeddedStack(data_dir, fixed_ports=True)
    children: list[ManagedProcess] = []
    code = 0
    try:
        require_free({"API": API_PORT, "payments sandbox": PAYMENTS_PORT, "SurePrep sandbox": SUREPREP_PORT,
                      "SmartVault sandbox": SMARTVAULT_PORT, "e-file sandbox": EFILE_PORT,
                      "Persona sandbox": PERSONA_PORT, "SMS gateway sandbox": SMS_GATEWAY_PORT,
                      "e-signature sandbox": ESIGN_PORT, "portal sandbox": PORTAL_PORT,
                      "webhook receiver": WEBHOOK_RECEIVER_PORT, "API metrics": Settings().api_metrics_port,
                      "worker metrics": Settings().worker_metrics_port})
        stack.start()  # a signal during start-up takes effect once it is done
        if not stop_requested.is_set():
            env = {**os.environ, **stack.env, **SANDBOX_ENV}
            for name, argv in child_commands(sys.executable):
                children.append(ManagedProcess(name, argv, logs_dir / f"{name}.log", env=env, cwd=PROJECT_ROOT))
            _write_env_file(data_dir, {**stack.env, **SANDBOX_ENV})
            code = _watch(children, stop_requested, until=_api_answers_or_gives_up())
            if code is None:
                print(_summary(stack, logs_dir), flush=True)
                # Operations: request lines and warnings in this terminal (devstack/log_echo.py).
                echo = LogEcho({"api": logs_dir / "api.log", "worker": logs_dir / "worker.log"})
                code = _watch(children, stop_requested, on_tick=echo.print_new)
    except (PortInUseError, StartupError) as exc:
        print(f"\nerror: {exc}", file=sys.stderr, flush=True)
        code = 1
    except Exception:
        logging.exception("the development stack failed")
        code = 1
    finally:
        (data_dir / ENV_FILE_NAME).unlink(missing_ok=True)
        for child in reversed(children):
            child.request_stop()
        for child in reversed(children):
            child.stop()
        try:
            stack.stop()
        except Exception:
            logging.exception("stopping the stack failed")
            code = 1
    print("stopped.", flush=True)
    return code


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # Quiet the chatty ones: pgserver logs every pg_ctl call, aiosmtpd every SMTP command.
    for name in ("pgserver", "mail.log", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def _install_signal_handlers() -> threading.Event:
    stop_requested = threading.Event()

    def handle(signum, _frame) -> None:
        if not stop_requested.is_set():
            print(f"\n{signal.Signals(signum).name}: stopping (this takes a few seconds)…", flush=True)
        stop_requested.set()

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handle)
    return stop_requested


def _watch(children: list[ManagedProcess], stop_requested: threading.Event,
           until: Callable[[], bool] = lambda: False, on_tick: Callable[[], None] = lambda: None) -> int | None:
    """Wait for a stop request (→ 0), a child's death (→ 1, with its log tail) or `until()` (→ None)."""
    while not stop_requested.wait(0.2):
        on_tick()
        for child in children:
            code = child.poll()
            if code is not None:
                print(f"\n{child.name} exited unexpectedly with code {code}; "
                      f"last lines of {child.log_path}:\n{child.log_tail(40)}\n", file=sys.stderr, flush=True)
                return 1
        if until():
            return None
    return 0


def _api_answers_or_gives_up(timeout: float = API_READY_TIMEOUT_S) -> Callable[[], bool]:
    """So "is up" is printed once the API listens; a slow start only earns a warning, not a shutdown."""
    deadline = time.monotonic() + timeout

    def check() -> bool:
        if accepts_connections(API_PORT):
            return True
        if time.monotonic() > deadline:
            print(f"warning: the API is not answering on port {API_PORT} after {timeout:.0f} s; "
                  f"see logs/api.log", file=sys.stderr, flush=True)
            return True
        return False

    return check


def _write_env_file(data_dir: Path, env: dict[str, str]) -> None:
    lines = [f"{key}={shlex.quote(value)}" for key, value in sorted(env.items())]
    (data_dir / ENV_FILE_NAME).write_text("\n".join(lines) + "\n")


def _summary(stack: EmbeddedStack, logs_dir: Path) -> str:
    env = stack.env
    api = f"http://{HOST}:{API_PORT}"
    rows = [
        ("API", api),
        ("OpenAPI", f"{api}/v1/openapi.json"),
        ("API docs", f"{api}/docs"),
        ("Temporal UI", env.get("TEMPORAL_UI_URL") or "(none)"),
        ("Temporal gRPC", f"{env['TEMPORAL_ADDRESS']}  namespace {env['TEMPORAL_NAMESPACE']}"),
        ("S3 endpoint", f"{env['S3_ENDPOINT_URL']}  bucket {env['S3_BUCKET']}"),
        ("Mail capture", f"{env['MAIL_CAPTURE_URL']}/messages  (SMTP {env['SMTP_HOST']}:{env['SMTP_PORT']})"),
        ("Payments", f"{SANDBOX_ENV['STRIPE_API_BASE']}/pay/<session>  (Stripe sandbox; events at /_sandbox/events)"),
        ("SurePrep", f"{SANDBOX_ENV['SUREPREP_API_URL']}  (sandbox)"),
        ("SmartVault", f"{SANDBOX_ENV['SMARTVAULT_API_URL']}  (sandbox)"),
        ("E-file transmitter", f"{SANDBOX_ENV['EFILING_API_URL']}  (sandbox; test names in docs/efile.md)"),
        ("Persona", f"{SANDBOX_ENV['PERSONA_API_URL']}/verify?inquiry-id=…  (sandbox)"),
        ("SMS gateway", f"{SANDBOX_ENV['SMS_GATEWAY_URL']}/messages?to=…  (texts and voice codes)"),
        ("E-signatures", f"{SANDBOX_ENV['GOOGLE_API_URL']}/sign/<token>  (sandbox; links arrive in the mail capture)"),
        ("Client portal", f"http://{HOST}:{PORTAL_PORT}  (TaxDome-style sandbox; demo login in the README)"),
        ("Webhook receiver", f"http://{HOST}:{WEBHOOK_RECEIVER_PORT}/ok/<name>  (outbound webhooks; "
                             "GET /_receiver/deliveries)"),
        ("Postgres", f"{env['DATABASE_URL']}  (make psql)"),
        ("Metrics", f"http://{HOST}:{Settings().api_metrics_port}/metrics (API), "
                    f"http://{HOST}:{Settings().worker_metrics_port}/metrics (workers)"),
        ("Portal pages", f"http://{HOST}:{API_PORT}/portal/  (behind every mailed link)"),
        ("Logs", f"{logs_dir}  (make logs: every part's, followed)"),
        ("Demo data", ".venv/bin/taxpractice demo seed"),
        ("Stack env", f"{stack.data_dir / ENV_FILE_NAME}  (python -m devstack env)"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {value}" for name, value in rows]
    return "\n".join(["", "Development stack is up (Ctrl-C stops everything):", *lines, ""])


def print_env() -> int:
    """Print `export` lines for the running `make run` stack, for a shell: eval "$(python -m devstack env)"."""
    path = Settings().data_dir.resolve() / ENV_FILE_NAME
    if not path.exists():
        print(f"no running stack: {path} is written by `make run` while it runs", file=sys.stderr)
        return 1
    for line in path.read_text().splitlines():
        print(f"export {line}")
    return 0


def exit_now(code: int) -> None:
    """Leave without interpreter finalization: the stack's health check used the temporalio SDK, whose
    runtime can abort the process at exit ("PyGILState_Release", see STACK-NOTES)."""
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


def psql() -> None:
    """Replace this process with the embedded Postgres's psql on DATABASE_URL (`make psql`)."""
    import pgserver

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        print("DATABASE_URL is not set: run `make psql` while `make run` runs", file=sys.stderr)
        exit_now(1)
    binary = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    os.execv(binary, [str(binary), url.replace("postgresql+psycopg://", "postgresql://", 1)])
