"""SmartVault's effect (spec §13.1), recorded once (domain/webhook/ledger.py): a document.uploaded of a known
account is handed to a SmartVaultImport workflow (the router starts it once the event is committed), which imports
the file into the pending (upload-first) queue; other events are acknowledged or refused with the reason."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.document.models import IntegrationAccount
from domain.webhook.ledger import Applied, Delivery

SOURCE = "smartvault"
# A SmartVault document id goes into the path of a request signed with our API key (the import downloads it):
# only an opaque id of these characters may, never `../` or a query (issue 13).
DOCUMENT_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")


async def apply(session: AsyncSession, event: Delivery) -> Applied[dict]:
    """The follow-up is the SmartVaultImport's input (activities.document.SmartVaultImportInput's fields)."""
    data = event.payload["data"]
    account_id = str(data.get("account_id", ""))
    firm_id = (await session.execute(select(IntegrationAccount.firm_id).where(
        IntegrationAccount.provider == "smartvault", IntegrationAccount.account_id == account_id))).scalar()
    if firm_id is None:
        return Applied("rejected", "unknown SmartVault account")
    if event.event_type == "folder.created":
        return Applied("ignored", "folders need no action", firm_id)
    if event.event_type != "document.uploaded":
        return Applied("ignored", f"event type {event.event_type} is not handled", firm_id)
    document_id, name = data.get("document_id"), data.get("name")
    if not isinstance(document_id, str) or not document_id or not isinstance(name, str):
        return Applied("rejected", "document_id and name are required", firm_id)
    if not DOCUMENT_ID.fullmatch(document_id):
        return Applied("rejected", "document_id is not a SmartVault document id", firm_id)
    return Applied("applied", firm_id=firm_id, follow_up={
        "firm_id": str(firm_id), "account_id": account_id, "document_id": document_id, "name": name[:255],
        "folder": str(data.get("folder") or "")[:100]})
