"""What the operator's commands share: settings, the database (as the app's role), the API (as a signed-in
caller), and output — a rich table for a person, JSON with --json for a script."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shlex
import time
from collections.abc import Iterable

import httpx
import pyotp
import typer
from rich.console import Console
from rich.table import Table

import domain.models  # noqa: F401  (registers every mapper, so foreign keys resolve)
from domain.db import make_engine, make_sessionmaker
from settings import Settings, get_settings

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

JSON_OPTION = typer.Option(False, "--json", help="print JSON (for scripts)")
# Commands that go through the API take the token `taxpractice login` prints.
TOKEN_OPTION = typer.Option(None, "--token", envvar="TAXPRACTICE_TOKEN",
                            help="bearer token (default: $TAXPRACTICE_TOKEN, as printed by `taxpractice login`)")
API_URL_OPTION = typer.Option(None, "--api-url", envvar="API_BASE_URL", help="default: API_BASE_URL")


@functools.cache
def settings() -> Settings:
    """The environment's settings. On a development machine with `make run` running, its stack.env (the embedded
    database's and the sandboxes' addresses) fills in what the environment leaves unset, as `make worker` does:
    so `taxpractice demo seed` in another terminal sees the same providers the API and the workers use."""
    base = get_settings()
    env_file = base.data_dir.resolve() / "stack.env"  # devstack/supervisor.ENV_FILE_NAME, written while it runs
    if not env_file.exists():
        return base
    # Shell lines (NAME='value'), as `set -a; . stack.env` reads them.
    lines = (word.split("=", 1) for line in env_file.read_text().splitlines() for word in shlex.split(line)[:1]
             if "=" in word)
    unset = {name.lower(): value for name, value in lines
             if name not in os.environ and name.lower() in Settings.model_fields}
    return Settings(**unset) if unset else base


def database_url(config: Settings) -> str:
    """DATABASE_URL, or the embedded Postgres that `make run` keeps under .data/."""
    if config.database_url:
        return config.database_url
    from devstack.postgres import start_postgres

    return start_postgres(config.data_dir / "postgres").url


def field_cipher():
    """The field-encryption keys (SSNs, TOTP secrets, stored secrets), built as the API and the workers build them
    (the previous key too, while rotating)."""
    from integrations.build import build_field_cipher

    return build_field_cipher(settings())


def app_engine(config: Settings):
    """Commands that write rows act as the app's database role, like the API (settings.database_app_role)."""
    return make_engine(database_url(config), pool_size=1, role=config.database_app_role)


def run(coroutine):
    return asyncio.run(coroutine)


async def with_session(work, begin: bool = True):
    """`work(session)` in one transaction (committed when it returns) on a short-lived engine."""
    engine = app_engine(settings())
    try:
        maker = make_sessionmaker(engine)
        async with (maker.begin() if begin else maker()) as session:
            return await work(session)
    finally:
        await engine.dispose()


def fail(message: str, code: int = 1) -> None:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def emit(result, as_json: bool) -> None:
    """A dict as `key: value` lines, or JSON."""
    if as_json:
        print(json.dumps(result, default=str))
        return
    for key, value in result.items():
        out.print(f"{key}: {value}", markup=False, highlight=False)


def emit_rows(title: str, columns: list[str], rows: Iterable[dict], as_json: bool) -> None:
    rows = list(rows)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(("" if row.get(c) is None else str(row.get(c))) for c in columns))
    out.print(table)


def api_client(api_url: str | None, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=api_url or settings().api_base_url, headers=headers, timeout=30)


def verify_with_totp_secret(api: httpx.Client, mfa_token: str, secret: str) -> dict:
    """Finish a sign-in with the code computed from the TOTP secret.

    A code is accepted once per 30-second step (domain/auth/totp), so a second sign-in of the same user within
    one step (a script run twice in a row) is refused. Then the next step's code is sent, as a person would wait
    for their app's next code: a wrong code leaves the mfa_token unspent.
    """
    totp = pyotp.TOTP(secret)
    response = api.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": totp.now()})
    if response.status_code == 401:
        time.sleep(totp.interval - time.time() % totp.interval + 0.5)
        response = api.post("/v1/auth/mfa/verify", json={"mfa_token": mfa_token, "code": totp.now()})
    return api_json(response)


def api_json(response: httpx.Response, expected: tuple[int, ...] = (200, 201, 202)) -> dict:
    """The answer's JSON, or exit with the problem's detail (and its field errors)."""
    if response.status_code in expected:
        return response.json()
    try:
        problem = response.json()
        detail = problem.get("detail", response.text)
        detail += "".join(f"\n  {e['field']}: {e['message']}" for e in problem.get("errors", []))
    except ValueError:
        detail = response.text[:300]
    fail(f"{response.request.method} {response.request.url.path}: {response.status_code} {detail}", 2)
