"""Business gauges: what the practice's work looks like, read from Postgres every `interval` seconds by one
process (the API's, next to its /metrics) and exported as Prometheus gauges.

Adding one is one line in GAUGES: a name, a help text, its labels, and a query answering rows of (label values…,
value). A query that fails (a table another capability has not migrated yet) leaves its gauge unset and logs a
warning; the others still refresh.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BusinessGauge:
    gauge: Gauge
    query: str

    def publish(self, rows) -> None:
        # Cleared first, so a status no return is in any more reads as absent rather than its last count.
        self.gauge.clear()
        for *labels, value in rows:
            (self.gauge.labels(*labels) if labels else self.gauge).set(float(value or 0))


def business_gauge(name: str, documentation: str, labels: list[str], query: str) -> BusinessGauge:
    return BusinessGauge(Gauge(name, documentation, labels), query)


GAUGES: list[BusinessGauge] = [
    business_gauge("taxpractice_returns", "Tax returns (not deleted) by lifecycle status", ["status"],
                   "SELECT status, count(*) FROM tax_returns WHERE deleted_at IS NULL GROUP BY status"),
    business_gauge("taxpractice_returns_stuck", "Returns longer in their status than its time budget", [],
                   "SELECT count(*) FROM tax_returns WHERE deleted_at IS NULL AND stuck_since IS NOT NULL"),
    business_gauge("taxpractice_outbox_depth", "Outbox entries not yet delivered", ["kind"],
                   "SELECT kind, count(*) FROM outbox GROUP BY kind"),
    business_gauge("taxpractice_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox entry", [],
                   "SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM outbox"),
    business_gauge("taxpractice_outbox_failing", "Outbox entries whose delivery failed at least once", [],
                   "SELECT count(*) FROM outbox WHERE attempts > 0"),
    # An automatic reminder is due 14 days before a quarter's due date and is sent at once when that instant has
    # passed (docs/estimated_payment.md): a scheduled quarter inside that window, an hour after its schedule was
    # made, with no reminder sent, is late.
    business_gauge("taxpractice_reminders_late", "Estimated-payment reminders due and not sent", [],
                   "SELECT count(*) FROM estimated_payments p JOIN estimated_payment_schedules s ON s.id = p.schedule_id "
                   "WHERE s.status = 'active' AND p.status = 'scheduled' AND NOT p.reminder_sent "
                   "AND p.due_date - 14 < current_date AND p.created_at < now() - interval '1 hour'"),
    # A delivery still pending after an attempt is retrying on its schedule (docs/webhooks-outbound.md).
    business_gauge("taxpractice_webhook_deliveries_failing", "Outbound webhook deliveries retrying after a failure",
                   [], "SELECT count(*) FROM webhook_deliveries d WHERE d.status = 'pending' "
                   "AND EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id)"),
    business_gauge("taxpractice_portal_connections_failing", "Portal connections whose last sync failed", [],
                   "SELECT count(*) FROM portal_connections WHERE status = 'failing' AND deleted_at IS NULL"),
]


async def refresh(engine: AsyncEngine, gauges: list[BusinessGauge] = GAUGES) -> None:
    for item in gauges:
        try:  # a connection each: a failed query aborts its transaction, which must not take the others with it
            async with engine.connect() as connection:
                rows = (await connection.execute(text(item.query))).all()
        except Exception as exc:  # one broken gauge must not stop the others
            log.warning("business gauge %s not refreshed: %s", item.gauge._name, type(exc).__name__)
            continue
        item.publish(rows)


async def keep_fresh(engine: AsyncEngine, interval_s: float) -> None:
    """Until cancelled (the API's shutdown)."""
    while True:
        try:
            await refresh(engine)
        except Exception as exc:  # Postgres down: the readiness probe says so; the gauges keep their last values
            log.warning("business gauges not refreshed: %s", type(exc).__name__)
        await asyncio.sleep(interval_s)
