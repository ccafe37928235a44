"""`taxpractice returns stuck`: returns longer in their status than its time budget, oldest first."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Optional

import typer
from sqlalchemy import select

from cli.common import JSON_OPTION, emit_rows, run, with_session
from domain.firm.models import Firm
from domain.tax_return.models import TaxReturn

returns = typer.Typer(help="tax returns", no_args_is_help=True)


@returns.command("stuck")
def stuck(firm_id: Optional[str] = typer.Option(None, help="one firm (default: every firm)"),
          as_json: bool = JSON_OPTION) -> None:
    """A table of stuck returns: where each sits, since when, and its Temporal workflow id (open it in Temporal
    UI, or search `StuckSince IS NOT NULL` there). docs/operations.md says how to unstick one."""
    async def work(session):
        query = (select(TaxReturn, Firm.name).join(Firm, Firm.id == TaxReturn.firm_id)
                 .where(TaxReturn.stuck_since.is_not(None), TaxReturn.deleted_at.is_(None))
                 .order_by(TaxReturn.stuck_since))
        if firm_id:
            query = query.where(TaxReturn.firm_id == uuid.UUID(firm_id))
        now = datetime.now(timezone.utc)
        return [{"return_id": str(r.id), "firm": name, "tax_year": r.tax_year, "type": r.return_type,
                 "status": r.status, "stuck_since": r.stuck_since.isoformat(timespec="seconds"),
                 "stuck_for": _age(now - r.stuck_since), "due_date": r.due_date.isoformat(),
                 "preparer_id": str(r.assigned_preparer_id) if r.assigned_preparer_id else None,
                 "workflow_id": f"tax-return:{r.id}"}
                for r, name in (await session.execute(query)).all()]

    emit_rows("Stuck returns", ["return_id", "firm", "tax_year", "status", "stuck_for", "due_date", "workflow_id"],
              run(with_session(work, begin=False)), as_json)


def _age(delta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h {int(delta.total_seconds() % 3600) // 60} min"


def register(root: typer.Typer) -> None:
    root.add_typer(returns, name="returns")
