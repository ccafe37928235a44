"""`taxpractice firms create|rename`: firms (tenants)."""

from __future__ import annotations

import uuid

import typer

from cli.common import JSON_OPTION, emit, fail, run, with_session
from domain.config.service import load_config
from domain.context import ServiceContext
from domain.firm.models import Firm

firms = typer.Typer(help="firms (tenants)", no_args_is_help=True)
NAME = typer.Option(..., help="the firm's name, 1 to 200 characters")


def _name(value: str) -> str:
    value = value.strip()
    if not 1 <= len(value) <= 200 or not value.isprintable():
        raise typer.BadParameter("1 to 200 printable characters")
    return value


@firms.command("create")
def create(name: str = typer.Option(..., callback=_name), as_json: bool = JSON_OPTION) -> None:
    """Create a firm (with its default security configuration)."""
    async def work(session):
        firm = Firm(id=uuid.uuid4(), name=name)
        session.add(firm)
        await session.flush()
        await load_config(session, firm.id)
        await ServiceContext.for_system(session, firm.id, "operator_cli").audit("firm.create", "firm", firm.id)
        return {"id": str(firm.id), "name": firm.name}

    emit(run(with_session(work)), as_json)


@firms.command("rename")
def rename(firm_id: str = typer.Option(...), name: str = typer.Option(..., callback=_name),
           as_json: bool = JSON_OPTION) -> None:
    """Rename a firm; the audit row keeps the old name."""
    try:
        firm_uuid = uuid.UUID(firm_id)
    except ValueError:
        raise typer.BadParameter("not a UUID", param_hint="--firm-id") from None

    async def work(session):
        firm = await session.get(Firm, firm_uuid)
        if firm is None:
            fail(f"no firm with id {firm_id}")
        old, firm.name = firm.name, name
        await ServiceContext.for_system(session, firm.id, "operator_cli").audit(
            "firm.rename", "firm", firm.id, details={"old_name": old, "new_name": name})
        return {"id": str(firm.id), "name": firm.name, "old_name": old}

    emit(run(with_session(work)), as_json)


def register(root: typer.Typer) -> None:
    root.add_typer(firms, name="firms")
