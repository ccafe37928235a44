"""The e-file transmitter's effect (spec §13.1 "E-Filing Webhooks"), recorded once (domain/webhook/ledger.py):
`transmission.accepted` and `transmission.rejected` record the acknowledgement of a Submission ID (the same
record a poll makes; whichever comes first is kept) and wake the transmission's workflow; `transmission.pending`
needs nothing. A Submission ID that is no transmission of ours is answered `ignored_unknown_transmission`."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from domain.context import UNBOUND_FIRM, ServiceContext
from domain.efile import service as efile
from domain.webhook.ledger import Applied, Delivery

SOURCE = "efiling"


def _acknowledgement(data: dict) -> efile.Acknowledgement | None:
    submission_id, status = data.get("submission_id"), data.get("status")
    errors = data.get("errors") or []
    if not (isinstance(submission_id, str) and len(submission_id) == 20 and status in ("accepted", "rejected")
            and isinstance(errors, list) and all(isinstance(e, dict) and isinstance(e.get("error_code"), str)
                                                 for e in errors)):
        return None
    accepted_on = data.get("acceptance_date")
    try:
        accepted = date.fromisoformat(accepted_on) if isinstance(accepted_on, str) else None
    except ValueError:
        return None
    number = data.get("confirmation_number")
    return efile.Acknowledgement(submission_id, status, number if isinstance(number, str) else None, accepted,
                                 tuple(errors))


async def apply(session: AsyncSession, event: Delivery) -> Applied[tuple[uuid.UUID, str]]:
    """The follow-up is (transmission id, Submission ID): the workflow to wake."""
    if event.event_type == "transmission.pending":
        return Applied("ignored", "awaiting acknowledgement: nothing to record")
    if event.event_type not in ("transmission.accepted", "transmission.rejected"):
        return Applied("ignored", f"event type {event.event_type} is not handled")
    ack = _acknowledgement(event.payload["data"])
    if ack is None or f"transmission.{ack.status}" != event.event_type:
        return Applied("rejected", "not an acknowledgement: submission_id (20 characters), status and errors")
    ctx = ServiceContext.for_system(session, UNBOUND_FIRM, SOURCE)
    transmission, recorded = await efile.record_acknowledgement(ctx, ack, "webhook")
    if transmission is None:
        return Applied("ignored_unknown_transmission", f"no transmission has Submission ID {ack.submission_id}")
    return Applied("recorded" if recorded else "already_recorded", firm_id=transmission.firm_id,
                   entity_type="efile_transmission", entity_id=transmission.id,
                   follow_up=(transmission.id, ack.submission_id))
