"""A calendar invitation (RFC 5545 VEVENT with METHOD:REQUEST), the `.ics` attached to the video call's mail."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone


def _stamp(at: datetime) -> str:
    return at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def invitation(event_id: uuid.UUID, start: datetime, duration: timedelta, summary: str, link: str,
               organizer: str, attendee: str) -> str:
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tax Practice//Identity verification//EN", "METHOD:REQUEST",
        "BEGIN:VEVENT", f"UID:{event_id}@taxpractice", f"DTSTAMP:{_stamp(datetime.now(timezone.utc))}",
        f"DTSTART:{_stamp(start)}", f"DTEND:{_stamp(start + duration)}", f"SUMMARY:{_text(summary)}",
        f"DESCRIPTION:{_text('Join: ' + link)}", f"LOCATION:{_text(link)}", f"URL:{link}",
        f"ORGANIZER:mailto:{organizer}", f"ATTENDEE;RSVP=TRUE:mailto:{attendee}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"
