"""Portal messages between staff and a client (spec §8)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, BackgroundTasks, Request

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, answers, list_of
from api.schemas.message import MessageCreate, MessageOut, MessageRead
from api.v1.client import iso
from domain.listing import parse_list_query
from domain.message import service
from domain.message.models import Message
from orchestration.mail import mail

router = APIRouter(route_class=JSONRoute, tags=["messages"])


def message_out(m: Message) -> dict:
    return {
        "id": str(m.id), "client_id": str(m.client_id), "return_id": str(m.return_id) if m.return_id else None,
        "direction": m.direction, "sender_type": m.sender_type, "sender_id": str(m.sender_id),
        "sender_name": m.sender_name, "subject": m.subject, "body": m.body, "read_at": iso(m.read_at),
        "created_at": iso(m.created_at),
    }


@router.get("/clients/{client_id}/messages", summary="List a client's messages", operation_id="list_messages",
            **answers(list_of(MessageOut, service.MESSAGE_LIST_SPEC), 403, 404))
async def list_messages(client_id: uuid.UUID, request: Request, ctx: Ctx):
    """Filters: return_id, direction (inbound, outbound, both); newest first."""
    query = parse_list_query(list(request.query_params.multi_items()), service.MESSAGE_LIST_SPEC)
    return envelope.page(await service.list_messages(ctx, client_id, query), query, message_out)


@router.post("/clients/{client_id}/messages", summary="Send a message", operation_id="send_message",
             **answers(One(MessageOut), 403, 404, 409, 422, status=201))
async def send_message(client_id: uuid.UUID, body: MessageCreate, ctx: Ctx, state: State,
                       background: BackgroundTasks):
    """Staff send outbound messages, clients inbound ones. `notify_email` mails the other side a notice
    (never the body) after the message is committed."""
    message, notification = await service.send_message(ctx, client_id, body.model_dump(),
                                                       state.settings.portal_base_url)
    if notification is not None:  # committed with the message; sent after the response, or by the relay
        background.add_task(state.outbox.send, *await state.outbox.commit(
            ctx.session, mail(notification.to, notification.subject, notification.text, about=f"message:{message.id}")))
    return envelope.one(message_out(message))


@router.post("/clients/{client_id}/messages/{message_id}/read", summary="Mark a message read",
             operation_id="mark_message_read",
             **answers(One(MessageRead), 403, 404, 409, 422))
async def mark_read(client_id: uuid.UUID, message_id: uuid.UUID, ctx: Ctx):
    message = await service.mark_read(ctx, client_id, message_id)
    return envelope.one({"id": str(message.id), "read_at": iso(message.read_at)})
