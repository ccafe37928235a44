"""Events other capabilities send to a return's workflow (documents arriving, a checklist complete, a
signature received …). They are Signals: the sender does not wait for the transition's outcome, and the
workflow applies the event only when the return's state machine allows it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from workflows import ids

SYSTEM_EVENT_SIGNAL = "system_event"


class TaxReturnSystemEvent(BaseModel):
    action: str  # a System action of the return state machine, e.g. "documents_received"
    source: str  # which capability sent it, e.g. "document"
    notes: str | None = None


async def send_system_event(client: Client, return_id: uuid.UUID, event: TaxReturnSystemEvent) -> bool:
    """Signal the return's workflow; False when it does not run (a return created before workflows existed)."""
    try:
        await client.get_workflow_handle(ids.tax_return(return_id)).signal(SYSTEM_EVENT_SIGNAL, event)
    except RPCError as err:
        if err.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
