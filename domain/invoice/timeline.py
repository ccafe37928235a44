"""When a sent invoice's workflow acts: overdue once the due date has passed, reminders 7, 14 and 30 days
after it, escalation to the firm at 45 days. Pure, so the workflow can compute it deterministically."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

REMINDER_DAYS = (7, 14, 30)
ESCALATION_DAYS = 45


def parse_time_of_day(raw: str) -> time:
    return time.fromisoformat(raw)


def at(day: date, time_of_day: time) -> datetime:
    return datetime.combine(day, time_of_day, tzinfo=timezone.utc)


def invoice_timeline(due_date: date, reminder_time: time) -> list[tuple[datetime, str]]:
    """(instant, step) in order. Overdue at the first instant after the due date (midnight UTC): the due date
    itself is a day on which paying is still on time."""
    steps = [(at(due_date + timedelta(days=1), time(0, 0)), "overdue")]
    steps += [(at(due_date + timedelta(days=n), reminder_time), f"reminder_{n}") for n in REMINDER_DAYS]
    steps.append((at(due_date + timedelta(days=ESCALATION_DAYS), reminder_time), "escalated"))
    return steps
