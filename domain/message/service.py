"""Portal messages (spec §8): staff write outbound messages, clients inbound ones, on a client's thread."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from domain import policy
from domain.client.models import Client
from domain.client.service import load_visible_client
from domain.context import ServiceContext
from domain.errors import BusinessRuleViolation, FieldError, NotFound, ValidationFailed
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.message.models import Message
from domain.tax_return import service as returns
from domain.user.models import User

MESSAGE_LIST_SPEC = ListSpec(
    filters={
        "return_id": Filterable(Message.return_id, uuid.UUID),
        "created_at": Filterable(Message.created_at, datetime, ("gte", "lte")),
    },
    sortable={"created_at": Message.created_at},
    id_column=Message.id,
    default_sort="-created_at",
    output_fields=frozenset({"id", "client_id", "return_id", "direction", "sender_type", "sender_id",
                             "sender_name", "subject", "body", "read_at", "created_at"}),
    extra_params=frozenset({"direction"}),
)


@dataclass
class Notification:
    """A mail to send once the message is committed (its body stays in the portal, not in the mail)."""

    to: str
    subject: str
    text: str


async def list_messages(ctx: ServiceContext, client_id: uuid.UUID, query: ListQuery) -> Page:
    policy.require(ctx.principal, "message.list")
    client = await load_visible_client(ctx, client_id)
    stmt = select(Message).where(Message.client_id == client.id)
    direction = query.extras.get("direction", "both")
    if direction not in ("inbound", "outbound", "both"):
        raise ValidationFailed("One or more query parameters failed validation", [
            FieldError("direction", "invalid_choice", "direction must be inbound, outbound or both")])
    if direction != "both":
        stmt = stmt.where(Message.direction == direction)
    page = await paginate(ctx.session, stmt, query, MESSAGE_LIST_SPEC)
    await ctx.audit("message.list", "client", client.id, client_id=client.id, details={"count": len(page.items)})
    return page


async def send_message(ctx: ServiceContext, client_id: uuid.UUID, data: dict,
                       portal_url: str) -> tuple[Message, Notification | None]:
    policy.require(ctx.principal, "message.send")
    client = await load_visible_client(ctx, client_id)
    tax_return = None
    if data.get("return_id") is not None:
        tax_return, _ = await returns.load_visible_return(ctx, data["return_id"])
        if tax_return.client_id != client.id:
            raise NotFound("Return")
    staff = ctx.principal.is_staff
    sender_name = (await ctx.session.get(User, ctx.principal.subject_id)).full_name if staff else client.name
    message = Message(id=uuid.uuid4(), firm_id=client.firm_id, client_id=client.id,
                      return_id=tax_return.id if tax_return else None,
                      direction="outbound" if staff else "inbound", sender_type="staff" if staff else "client",
                      sender_id=ctx.principal.subject_id, sender_name=sender_name, subject=data["subject"],
                      body=data["body"])
    ctx.session.add(message)
    await ctx.session.flush()
    await ctx.audit("message.send", "message", message.id, client_id=client.id,
                    details={"direction": message.direction, "notify_email": bool(data.get("notify_email"))})
    notification = None
    if data.get("notify_email"):
        notification = await _notification(ctx, client, tax_return, message, portal_url)
    return message, notification


async def _notification(ctx: ServiceContext, client: Client, tax_return, message: Message,
                        portal_url: str) -> Notification | None:
    if message.direction == "outbound":
        if not client.email:
            return None
        return Notification(client.email, f"New message: {message.subject}",
                            f"Hello {client.name},\n\nYou have a new message from your tax team. "
                            f"Read it in the portal: {portal_url}\n")
    preparer_id = (tax_return.assigned_preparer_id if tax_return else None) or client.assigned_preparer_id
    preparer = await ctx.session.get(User, preparer_id) if preparer_id else None
    if preparer is None or not preparer.is_active:
        return None
    return Notification(preparer.email, f"Client message ({client.account_number}): {message.subject}",
                        f"{client.name} ({client.account_number}) sent a message. Message id: {message.id}\n")


async def mark_read(ctx: ServiceContext, client_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    """Only the recipient side marks a message read: the client an outbound one, staff an inbound one."""
    policy.require(ctx.principal, "message.read")
    client = await load_visible_client(ctx, client_id)
    message = await ctx.session.get(Message, message_id)
    if message is None or message.client_id != client.id:
        raise NotFound("Message")
    if (message.direction == "outbound") == ctx.principal.is_staff:
        raise BusinessRuleViolation("Only the recipient marks a message read", code="not_recipient")
    if message.read_at is None:
        message.read_at = datetime.now(timezone.utc)
        await ctx.audit("message.read", "message", message.id, client_id=client.id)
    return message
