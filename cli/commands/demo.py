"""`taxpractice demo seed`: a living demo practice on the running `make run` stack (cli/demo_seed.py)."""

from __future__ import annotations

from typing import Optional

import typer

from cli.common import API_URL_OPTION, JSON_OPTION, emit, emit_rows, fail, out, run, settings

demo = typer.Typer(help="the demo practice (development)", no_args_is_help=True)


@demo.command("seed")
def seed(api_url: Optional[str] = API_URL_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Seed the demo firm through the running API and workers; run it again and nothing is duplicated."""
    config = settings()
    if not config.is_development:
        fail("demo seed runs in development only (APP_ENV=development): it signs in with the service token", 2)
    report = run(_seed(config, api_url or config.api_base_url))
    summary = {"firm_id": str(report.firm_id), "created": report.created,
               "returns_by_status": report.returns_by_status, "skipped": report.skipped}
    if as_json:
        return emit({**summary, "staff": report.staff}, True)
    out.print(f"demo firm {report.firm_id}: created {report.created or 'nothing (already seeded)'}")
    for step in report.skipped:
        out.print(f"skipped (provider not configured): {step}")
    emit_rows("Returns by status", ["status", "returns"],
              ({"status": s, "returns": n} for s, n in sorted(report.returns_by_status.items())), False)
    emit_rows("Demo staff (sign in: taxpractice login --email E --totp-secret S)",
              ["email", "role", "password", "totp_secret"], report.staff, False)


async def _seed(config, api_url: str):
    import httpx

    from api.state import build_state
    from cli.common import database_url
    from cli.demo_seed import DemoSeeder
    from orchestration.connect import connect

    config = config.model_copy(update={"database_url": database_url(config)})
    state = build_state(config)
    try:
        async with httpx.AsyncClient(base_url=api_url, timeout=60) as api:
            seeder = DemoSeeder(api, state.sessionmaker, state.authenticator, state.cipher, await connect(config),
                                config)
            return await seeder.seed()
    finally:
        await state.engine.dispose()


@demo.command("login")
def login(role: str = typer.Argument(..., help="admin | ea_cpa | reviewer | preparer | preparer2"),
          api_url: Optional[str] = API_URL_OPTION) -> None:
    """Print an access token of a demo staff member, signed in through the API (password, then TOTP computed from
    their secret): `export PREPARER=$(taxpractice demo login preparer)`."""
    from sqlalchemy import select

    from cli.common import api_client, api_json, field_cipher, verify_with_totp_secret, with_session
    from cli.demo_seed import DEMO_PASSWORD, demo_email
    from domain.auth import totp
    from domain.user.models import User

    config = settings()
    if not config.is_development:
        fail("demo login runs in development only", 2)
    email = demo_email(role)

    async def secret_of(session):
        user = (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()
        if user is None:
            fail(f"no demo user {email}: run `taxpractice demo seed` first")
        return totp.open_secret(field_cipher(), user.id, user.totp_secret_encrypted)[0]

    secret = run(with_session(secret_of, begin=False))
    with api_client(api_url) as api:
        first = api_json(api.post("/v1/auth/login", json={"email": email, "password": DEMO_PASSWORD}))
        tokens = verify_with_totp_secret(api, first["mfa_token"], secret)
    print(tokens["access_token"])


def register(root: typer.Typer) -> None:
    root.add_typer(demo, name="demo")
