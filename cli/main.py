"""`taxpractice` — operator commands. `taxpractice users create --email E --role admin --password P --json`,
`taxpractice audit verify` (exit 1 at the first break of the audit log's hash chain), `taxpractice keys rotate`
(re-seal every stored ciphertext under the current field-encryption key: domain/crypto_rotation.py).

Without DATABASE_URL it reaches the embedded Postgres that `make run` keeps under .data/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid

from pydantic import TypeAdapter, ValidationError

import domain.models  # noqa: F401  (registers every mapper, so foreign keys resolve)
from api.schemas.base import MailableEmail
from domain.auth import totp
from domain.db import make_engine, make_sessionmaker
from domain.errors import DomainError
from domain.firm.models import DEFAULT_FIRM_ID, Firm
from domain.user.service import create_user
from integrations.build import build_field_cipher
from settings import Settings, get_settings


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    from devstack.postgres import start_postgres

    return start_postgres(settings.data_dir / "postgres").url


def app_engine(settings: Settings):
    """Commands that write rows act as the app's database role, like the API (settings.database_app_role)."""
    return make_engine(database_url(settings), pool_size=1, role=settings.database_app_role)


async def _create_user(args: argparse.Namespace, settings: Settings) -> dict:
    engine = app_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as session:
            firm_id = uuid.UUID(args.firm_id) if args.firm_id else DEFAULT_FIRM_ID
            if await session.get(Firm, firm_id) is None:
                raise SystemExit(f"no firm with id {firm_id}")
            user, secret = await create_user(
                session, firm_id, args.email, args.full_name or args.email.split("@")[0], args.role,
                build_field_cipher(settings), ptin=args.ptin, password=args.password)
            return {"id": str(user.id), "email": user.email, "role": user.role, "totp_secret": secret,
                    "otpauth_uri": totp.provisioning_uri(secret, user.email)}
    finally:
        await engine.dispose()


async def _create_firm(args: argparse.Namespace, settings: Settings) -> dict:
    engine = app_engine(settings)
    try:
        async with make_sessionmaker(engine).begin() as session:
            firm = Firm(id=uuid.uuid4(), name=args.name)
            session.add(firm)
        return {"id": str(firm.id), "name": firm.name}
    finally:
        await engine.dispose()


def _migrate(args: argparse.Namespace, settings: Settings) -> dict:
    """Database migrations, then the custom search attributes on the Temporal cluster."""
    from migrations.runner import upgrade_to_head

    # As the schema's owner: the app's own role cannot create or alter tables.
    upgrade_to_head(settings.migration_database_url or database_url(settings))
    if args.skip_temporal:
        return {"migrated": True, "search_attributes_added": None}

    async def register() -> list[str]:
        from orchestration import search_attributes
        from orchestration.connect import connect

        client = await connect(settings)
        return await search_attributes.register(client, settings.temporal_namespace)

    return {"migrated": True, "search_attributes_added": asyncio.run(register())}


async def _verify_audit(args: argparse.Namespace, settings: Settings) -> dict:
    """Read-only: the app's role may read the audit log and the chain heads, so no owner credentials needed."""
    from domain.audit.chain import verify_chain

    engine = app_engine(settings)
    try:
        async with make_sessionmaker(engine)() as session:
            report = await verify_chain(session, uuid.UUID(args.firm_id) if args.firm_id else None)
    finally:
        await engine.dispose()
    broken = report.first_break
    return {"intact": report.intact, "rows": report.rows, "firms": report.firms,
            "first_break": None if broken is None else {
                "firm_id": str(broken.firm_id), "chain_seq": broken.chain_seq, "audit_id": broken.audit_id,
                "reason": broken.reason, "message": broken.describe()}}


async def _rotate_keys(args: argparse.Namespace, settings: Settings) -> dict:
    from domain.crypto_rotation import rotate

    engine = app_engine(settings)
    try:
        reports = await rotate(make_sessionmaker(engine), build_field_cipher(settings), args.batch_size)
    finally:
        await engine.dispose()
    return {name: {"resealed": r.resealed, "unreadable": r.unreadable} for name, r in reports.items()}


def _portal(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from cli import portal

    async def go() -> int:
        engine = app_engine(settings)
        try:
            return await getattr(portal, args.action)(settings, engine, args.connection_id, Console())
        finally:
            await engine.dispose()
    return asyncio.run(go())


def _mailable_email(value: str) -> str:
    """The rule every email of a request body follows (api/schemas/base.py), so the first admin is mailable too."""
    try:
        return TypeAdapter(MailableEmail).validate_python(value)
    except ValidationError as err:
        raise argparse.ArgumentTypeError(err.errors()[0]["msg"]) from None


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="taxpractice", description="Tax Practice operator commands")
    commands = root.add_subparsers(dest="command", required=True)

    users = commands.add_parser("users", help="staff users").add_subparsers(dest="action", required=True)
    create = users.add_parser("create", help="create a staff user with a password and a TOTP secret")
    create.add_argument("--email", required=True, type=_mailable_email)
    create.add_argument("--role", required=True, choices=["admin", "ea_cpa", "reviewer", "preparer"])
    create.add_argument("--password", required=True)
    create.add_argument("--full-name")
    create.add_argument("--ptin")
    create.add_argument("--firm-id", help="default: the firm created by the first migration")
    create.add_argument("--json", action="store_true", help="print JSON")

    firms = commands.add_parser("firms", help="firms (tenants)").add_subparsers(dest="action", required=True)
    firm_create = firms.add_parser("create", help="create a firm")
    firm_create.add_argument("--name", required=True)
    firm_create.add_argument("--json", action="store_true")

    migrate = commands.add_parser("migrate", help="apply database migrations and register search attributes")
    migrate.add_argument("--skip-temporal", action="store_true", help="database only")
    migrate.add_argument("--json", action="store_true")

    audit = commands.add_parser("audit", help="the audit log").add_subparsers(dest="action", required=True)
    verify = audit.add_parser("verify", help="walk the audit log's hash chain; exit 1 at the first break")
    verify.add_argument("--firm-id", help="one firm's chain (default: every firm's)")
    verify.add_argument("--json", action="store_true")

    keys = commands.add_parser("keys", help="field-encryption keys").add_subparsers(dest="action", required=True)
    rotate = keys.add_parser("rotate", help="re-seal every stored ciphertext under SSN_ENCRYPTION_KEY")
    rotate.add_argument("--batch-size", type=int, default=500)
    rotate.add_argument("--json", action="store_true")
    portal = commands.add_parser("portal", help="client-portal connections").add_subparsers(dest="action",
                                                                                           required=True)
    for name, text in (("sync", "run one sync in the foreground"), ("check", "run the drift check")):
        portal.add_parser(name, help=text).add_argument("connection_id", type=uuid.UUID)
    return root


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    settings = get_settings()
    if args.command == "portal":
        return _portal(args, settings)
    try:
        if args.command == "users":
            result = asyncio.run(_create_user(args, settings))
        elif args.command == "firms":
            result = asyncio.run(_create_firm(args, settings))
        elif args.command == "audit":
            result = asyncio.run(_verify_audit(args, settings))
        elif args.command == "keys":
            result = asyncio.run(_rotate_keys(args, settings))
        else:
            result = _migrate(args, settings)
    except DomainError as err:
        print(f"error: {err.detail}" + "".join(f"\n  {e.field}: {e.message}" for e in err.errors), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    if args.command == "audit" and not result["intact"]:
        print(f"audit chain broken: {result['first_break']['message']}", file=sys.stderr)
        return 1
    return 0


def main() -> None:
    status = run(sys.argv[1:])
    sys.stdout.flush()
    os._exit(status)
