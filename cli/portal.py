"""`taxpractice portal sync CONNECTION_ID` and `taxpractice portal check CONNECTION_ID`: the logic, apart from
the command-line wiring (cli/main.py), so either argparse or typer calls the same two functions.

`sync` starts one sync of the connection the way the API's POST …/sync does (a sync row and its outbox message,
as the system actor with source "cli"), then shows a progress bar per (surface, account) from the sync's row,
which each pull updates after every page, until the sync ends. It needs the workers running (`make run`).
`check` runs the drift check in this process and prints what each surface answered.
Exit status: 0 succeeded / no drift, 1 failed / drift found, 2 no such connection or refused to start.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from domain.context import ServiceContext
from domain.db import make_sessionmaker
from domain.errors import DomainError
from domain.portal.check import check_connection
from domain.portal.connection import start_sync
from domain.portal.models import PortalConnection, PortalSync
from domain.portal.session import ConnectionSession
from integrations.build import build_field_cipher, build_mailer
from integrations.portal import PortalConnector
from orchestration import outbox
from orchestration import portal as workflow
from orchestration.connect import connect
from settings import Settings


async def _connection(sessionmaker, connection_id: uuid.UUID) -> PortalConnection | None:
    async with sessionmaker() as session:
        connection = await session.get(PortalConnection, connection_id)
    return None if connection is None or connection.deleted_at is not None else connection


async def sync(settings: Settings, engine, connection_id: uuid.UUID, console: Console,
               timeout_s: float = 6 * 3600) -> int:
    sessionmaker = make_sessionmaker(engine)
    connection = await _connection(sessionmaker, connection_id)
    if connection is None:
        console.print(f"[red]no portal connection {connection_id}")
        return 2
    temporal = None

    async def reach():
        nonlocal temporal
        temporal = temporal or await connect(settings)
        return temporal

    box = outbox.Outbox(reach, sessionmaker, build_mailer(settings), build_field_cipher(settings))
    try:
        async with sessionmaker() as session:
            ctx = ServiceContext.for_system(session, connection.firm_id, "cli")
            row = await start_sync(ctx, connection_id, "cli", action="portal.sync")
            row.workflow_id = workflow.workflow_id(connection_id, row.id)
            pending = await box.add(session, workflow.sync_requested(connection_id, row.id))
            await session.commit()
            sync_id = row.id
    except DomainError as refused:
        console.print(f"[red]{refused.detail}")
        return 2
    await box.send(pending)
    console.print(f"sync {sync_id} of {connection.base_url} started")
    done = await _follow(sessionmaker, sync_id, console, timeout_s)
    _summary(done, console)
    return 0 if done.status == "succeeded" else 1


async def _follow(sessionmaker, sync_id: uuid.UUID, console: Console, timeout_s: float) -> PortalSync:
    columns = (SpinnerColumn(), TextColumn("{task.description:<28}"), BarColumn(),
               TextColumn("{task.fields[counts]}"))
    bars: dict[tuple[str, str], int] = {}
    deadline = time.monotonic() + timeout_s
    with Progress(*columns, console=console, transient=False) as progress:
        while True:
            async with sessionmaker() as session:
                row = await session.get(PortalSync, sync_id)
            for entry in row.results:
                key = (entry["surface"], entry["portal_account_id"])
                counts = (f"{entry['seen']} seen, {entry['created']} new, {entry['updated']} changed, "
                          f"{entry['bytes_downloaded'] / 1e6:.1f} MB" + (f"  [red]{entry['error']}"
                                                                         if entry.get("error") else ""))
                if key not in bars:
                    bars[key] = progress.add_task(f"{key[0]} · {key[1]}", total=None, counts=counts)
                finished = entry["status"] != "running"
                progress.update(bars[key], counts=counts, completed=entry["seen"],
                                total=entry["seen"] if finished else None)
            if row.status != "running" or time.monotonic() > deadline:
                return row
            await asyncio.sleep(0.5)


def _summary(row: PortalSync, console: Console) -> None:
    colour = {"succeeded": "green", "failed": "red"}.get(row.status, "yellow")
    console.print(f"[{colour}]{row.status}[/] — {row.requests_made} requests" +
                  (f", stopped by: {row.error}" if row.error else ""))


async def check(settings: Settings, engine, connection_id: uuid.UUID, console: Console) -> int:
    sessionmaker = make_sessionmaker(engine)
    connection = await _connection(sessionmaker, connection_id)
    if connection is None:
        console.print(f"[red]no portal connection {connection_id}")
        return 2
    opener = ConnectionSession(sessionmaker, build_field_cipher(settings), PortalConnector(),
                               connection_id)
    results = await check_connection(opener, connection)
    table = Table("surface", "account", "result", "field", "detail")
    for result in results:
        colour = "green" if result.status == "ok" else "red"
        table.add_row(result.surface, result.portal_account_id, f"[{colour}]{result.status}", result.field or "",
                      result.detail or "")
    console.print(table)
    return 0 if all(r.status == "ok" for r in results) else 1
