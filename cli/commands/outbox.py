"""`taxpractice outbox status`: what waits in the outbox (orchestration/outbox.py), by kind, and what fails."""

from __future__ import annotations

from datetime import datetime, timezone

import typer
from sqlalchemy import func, select

from cli.common import JSON_OPTION, emit, emit_rows, out, run, with_session
from domain.outbox.models import OutboxEntry

outbox = typer.Typer(help="the transactional outbox", no_args_is_help=True)


@outbox.command("status")
def status(failing: int = typer.Option(10, help="how many failing entries to list"),
           as_json: bool = JSON_OPTION) -> None:
    """Entries by kind with the oldest's age, then the entries whose delivery failed (with the last error).
    An entry is delivered by the API after its commit, else by the outbox relay workflow within a minute."""
    async def work(session):
        now = datetime.now(timezone.utc)
        kinds = [{"kind": kind, "entries": count, "failing": failed,
                  "oldest_age_s": round((now - oldest).total_seconds())}
                 for kind, count, failed, oldest in (await session.execute(
                     select(OutboxEntry.kind, func.count(), func.count().filter(OutboxEntry.attempts > 0),
                            func.min(OutboxEntry.created_at)).group_by(OutboxEntry.kind).order_by(OutboxEntry.kind)
                 )).all()]
        failed = [{"id": str(e.id), "kind": e.kind, "entity": f"{e.entity_type}:{e.entity_id}",
                   "attempts": e.attempts, "age_s": round((now - e.created_at).total_seconds()),
                   "last_error": e.last_error}
                  for e in (await session.execute(select(OutboxEntry).where(OutboxEntry.attempts > 0)
                                                  .order_by(OutboxEntry.created_at).limit(failing))).scalars()]
        return kinds, failed

    kinds, failed = run(with_session(work, begin=False))
    if as_json:
        return emit({"depth": sum(k["entries"] for k in kinds), "kinds": kinds, "failing": failed}, True)
    out.print(f"outbox depth: {sum(k['entries'] for k in kinds)}")
    emit_rows("Outbox by kind", ["kind", "entries", "failing", "oldest_age_s"], kinds, False)
    if failed:
        emit_rows("Failing entries (oldest first)", ["id", "kind", "entity", "attempts", "age_s", "last_error"],
                  failed, False)


def register(root: typer.Typer) -> None:
    root.add_typer(outbox, name="outbox")
