"""`taxpractice portal sync|check CONNECTION_ID`: one sync of a client-portal connection in the foreground with a
progress bar per surface, or the drift check alone (cli/portal.py; docs/portal/)."""

from __future__ import annotations

import uuid

import typer
from rich.console import Console

from cli import portal as portal_commands
from cli.common import app_engine, run, settings

portal = typer.Typer(help="client-portal connections", no_args_is_help=True)


def _in_foreground(command, connection_id: uuid.UUID) -> None:
    async def work() -> int:
        config = settings()
        engine = app_engine(config)
        try:
            return await command(config, engine, connection_id, Console())
        finally:
            await engine.dispose()

    raise typer.Exit(run(work()))


@portal.command("sync")
def sync(connection_id: uuid.UUID) -> None:
    """Start a sync of the connection (as POST …/sync does) and follow it to its end."""
    _in_foreground(portal_commands.sync, connection_id)


@portal.command("check")
def check(connection_id: uuid.UUID) -> None:
    """Sign in, read one page of every enabled surface per account, store nothing: ok or the drift found."""
    _in_foreground(portal_commands.check, connection_id)


def register(root: typer.Typer) -> None:
    root.add_typer(portal, name="portal")
