"""`taxpractice webhooks deliveries ENDPOINT_ID`, `webhooks redeliver DELIVERY_ID` and `webhooks prune`: an
outbound webhook endpoint's delivery log with every attempt, a redelivery, and the retention prune the daily
schedule runs (cli/webhooks.py; docs/webhooks-outbound.md)."""

from __future__ import annotations

import uuid

import typer

from cli import webhooks as webhook_commands
from cli.common import JSON_OPTION, app_engine, emit, emit_rows, field_cipher, run, settings
from domain.db import make_sessionmaker

webhooks = typer.Typer(help="outbound webhook deliveries", no_args_is_help=True)


@webhooks.command("deliveries")
def deliveries(endpoint_id: uuid.UUID, limit: int = typer.Option(20, min=1, max=500),
               as_json: bool = JSON_OPTION) -> None:
    """The endpoint's latest deliveries, newest first, with each attempt's status, latency and error."""
    async def work():
        engine = app_engine(settings())
        try:
            return await webhook_commands.deliveries(make_sessionmaker(engine), endpoint_id, limit)
        finally:
            await engine.dispose()

    rows = run(work())
    if as_json:  # every attempt of every delivery
        return emit_rows("Deliveries", [], rows, True)

    def last_attempt(attempts: list[dict]) -> str | None:
        if not attempts:
            return None
        last = attempts[-1]
        return f"{last['status_code'] or last['error']} in {last['latency_ms']} ms"

    emit_rows("Deliveries (newest first)", ["id", "event_type", "status", "attempts", "last"],
              [{**row, "attempts": len(row["attempts"]), "last": last_attempt(row["attempts"])} for row in rows],
              False)


@webhooks.command("redeliver")
def redeliver(delivery_id: uuid.UUID, as_json: bool = JSON_OPTION) -> None:
    """A new delivery of the same event (same webhook-id), sent by the outbox relay within 30 s."""
    from integrations.build import build_mailer
    from orchestration.outbox import Outbox

    async def work():
        config = settings()
        engine = app_engine(config)

        async def no_temporal():  # the relay starts the delivery's workflow; this command only records it
            raise RuntimeError("left for the outbox relay")

        try:
            box = Outbox(no_temporal, make_sessionmaker(engine), build_mailer(config), field_cipher())
            return await webhook_commands.redeliver(box, delivery_id)
        finally:
            await engine.dispose()

    emit({"delivery_id": str(run(work()))}, as_json)


@webhooks.command("prune")
def prune(older_than_days: int = typer.Option(
              None, min=1, help="retention in days (default: OUTBOUND_WEBHOOK_EVENT_RETENTION_DAYS, 90)"),
          as_json: bool = JSON_OPTION) -> None:
    """Delete domain events past their retention with their deliveries and attempts (none with a delivery still
    pending), as the daily `webhook-event-prune` schedule does."""
    async def work():
        config = settings()
        engine = app_engine(config)
        try:
            return await webhook_commands.prune(make_sessionmaker(engine),
                                                older_than_days or config.outbound_webhook_event_retention_days)
        finally:
            await engine.dispose()

    emit(run(work()), as_json)


def register(root: typer.Typer) -> None:
    root.add_typer(webhooks, name="webhooks")
