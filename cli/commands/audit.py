"""`taxpractice audit verify|export`: the audit log's hash chain, and an export through the API."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Optional

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cli.common import API_URL_OPTION, JSON_OPTION, TOKEN_OPTION, api_client, api_json, emit, err, fail, run, \
    with_session

audit = typer.Typer(help="the audit log", no_args_is_help=True)


@audit.command("verify")
def verify(firm_id: Optional[str] = typer.Option(None, help="one firm's chain (default: every firm's)"),
           as_json: bool = JSON_OPTION) -> None:
    """Walk the audit log's hash chain; exit 1 at the first break. Read-only, as the app's role."""
    from domain.audit.chain import verify_chain

    async def work(session):
        with Progress(SpinnerColumn(), TextColumn("verifying the audit chain…"), TimeElapsedColumn(),
                      console=err, transient=True):
            return await verify_chain(session, uuid.UUID(firm_id) if firm_id else None)

    report = run(with_session(work, begin=False))
    broken = report.first_break
    emit({"intact": report.intact, "rows": report.rows, "firms": report.firms,
          "first_break": None if broken is None else {
              "firm_id": str(broken.firm_id), "chain_seq": broken.chain_seq, "audit_id": broken.audit_id,
              "reason": broken.reason, "message": broken.describe()}}, as_json)
    if not report.intact:
        fail(f"audit chain broken: {broken.describe()}", 1)


@audit.command("export")
def export(start: str = typer.Option(..., help="ISO date or datetime (UTC if no offset)"),
           end: str = typer.Option(..., help="ISO date or datetime"),
           format: str = typer.Option("json", help="json | csv"),
           wait: bool = typer.Option(False, "--wait", help="wait for the export and download it"),
           output: Optional[Path] = typer.Option(None, help="where --wait writes the file (default: ./audit-<id>.<fmt>)"),
           timeout_s: float = typer.Option(300, help="how long --wait waits"),
           token: Optional[str] = TOKEN_OPTION, api_url: Optional[str] = API_URL_OPTION,
           as_json: bool = JSON_OPTION) -> None:
    """Ask the API for an export of the caller's firm's audit log (POST /v1/admin/audit/export, admin)."""
    if not token:
        fail("a token is needed: `export TAXPRACTICE_TOKEN=$(taxpractice login --email …)`", 2)
    with api_client(api_url, token) as api:
        started = api_json(api.post("/v1/admin/audit/export",
                                    json={"start_date": start, "end_date": end, "format": format}))["data"]
        if not wait:
            return emit(started, as_json)
        export_id = started["export_id"]
        deadline = time.monotonic() + timeout_s
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                      transient=True) as progress:
            task = progress.add_task(f"export {export_id}: processing")
            while True:
                current = api_json(api.get(f"/v1/admin/audit/exports/{export_id}"))["data"]
                progress.update(task, description=f"export {export_id}: {current['status']}")
                if current["status"] != "processing":
                    break
                if time.monotonic() > deadline:
                    fail(f"export {export_id} still processing after {timeout_s:.0f} s", 1)
                time.sleep(0.5)
            if current["status"] != "completed":
                fail(f"export {export_id} {current['status']}: {current.get('error')}", 1)
            target = output or Path(f"audit-{export_id}.{current['format']}")
            with api.stream("GET", current["download_url"]) as response, target.open("wb") as file:
                if response.status_code != 200:
                    fail(f"download: HTTP {response.status_code}", 1)
                download = progress.add_task("downloading", total=int(response.headers.get("content-length", 0)))
                for chunk in response.iter_bytes(65536):
                    file.write(chunk)
                    progress.advance(download, len(chunk))
    emit({**current, "file": str(target)}, as_json)


def register(root: typer.Typer) -> None:
    root.add_typer(audit, name="audit")
