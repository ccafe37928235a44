"""Clients and their contacts (spec §4)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, Page, answers, list_of
from api.schemas.client import (
    ClientCreate, ClientDetail, ClientSummary, ClientUpdate, ContactCreate, ContactOut, ContactUpdate,
)
from api.schemas.base import patch_changes
from domain.client import service
from domain.client.models import Client, ClientContact
from domain.listing import parse_list_query

router = APIRouter(route_class=JSONRoute, tags=["clients"])


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def client_summary(client: Client) -> dict:
    """Of a Client, or of a list page's row of domain/client/service.LIST_COLUMNS (the same names)."""
    return {
        "id": str(client.id),
        "account_number": client.account_number,
        "client_type": client.client_type,
        "name": client.name,
        "email": client.email,
        "phone": client.phone,
        "status": client.status,
        "assigned_preparer_id": str(client.assigned_preparer_id) if client.assigned_preparer_id else None,
        "created_at": iso(client.created_at),
        "updated_at": iso(client.updated_at),
    }


def contact_out(contact: ClientContact) -> dict:
    return {"id": str(contact.id), "name": contact.name, "relationship": contact.relationship,
            "email": contact.email, "phone": contact.phone, "is_primary": contact.is_primary}


def client_detail(client: Client, contacts: list[ClientContact]) -> dict:
    summary = client_summary(client)
    return {
        **{k: summary[k] for k in ("id", "account_number", "client_type", "name", "email", "phone")},
        "address": client.address,
        "ssn_last4": client.ssn_last4,
        "date_of_birth": client.date_of_birth.isoformat() if client.date_of_birth else None,
        "status": client.status,
        "identity_verification_status": client.identity_verification_status,
        "assigned_preparer_id": summary["assigned_preparer_id"],
        "contacts": [contact_out(c) for c in contacts],
        "created_at": summary["created_at"],
        "updated_at": summary["updated_at"],
    }


@router.get("/clients", summary="List clients", operation_id="list_clients",
            **answers(list_of(ClientSummary, service.CLIENT_LIST_SPEC)))
async def list_clients(request: Request, ctx: Ctx):
    """Filters: status, client_type, assigned_preparer_id, account_number, created_at__gte/lte; `search`
    matches words of name, email and account number by prefix. Preparers see their assigned clients only."""
    query = parse_list_query(list(request.query_params.multi_items()), service.CLIENT_LIST_SPEC)
    return envelope.page(await service.list_clients(ctx, query), query, client_summary)


@router.post("/clients", summary="Create a client", operation_id="create_client",
             **answers(One(ClientDetail), 403, 409, 422, status=201))
async def create_client(body: ClientCreate, ctx: Ctx, state: State):
    """The SSN is encrypted at rest; responses show only `ssn_last4`."""
    data = body.model_dump(exclude_unset=True)
    if body.address is not None:
        data["address"] = body.address.model_dump(exclude_none=True)
    client = await service.create_client(ctx, data, state.cipher)
    return envelope.one(client_detail(client, []))


@router.get("/clients/{client_id}", summary="Get a client", operation_id="get_client",
            **answers(One(ClientDetail), 404))
async def get_client(client_id: uuid.UUID, ctx: Ctx):
    """Reading a client is a read of PII and is written to the audit log."""
    client, contacts = await service.get_client(ctx, client_id)
    return envelope.one(client_detail(client, contacts))


@router.patch("/clients/{client_id}", summary="Update a client", operation_id="update_client",
              **answers(One(ClientDetail), 403, 404, 409, 422))
async def update_client(client_id: uuid.UUID, body: ClientUpdate, ctx: Ctx, state: State):
    """Partial update; `address` is merged field by field. Only admin, EA/CPA and reviewers reassign."""
    changes = patch_changes(body)
    if "address" in changes:
        changes["address"] = body.address.model_dump(exclude_unset=True)
    client = await service.update_client(ctx, client_id, changes, state.cipher)
    return envelope.one(client_detail(client, await service.list_contacts(ctx, client.id)))


@router.delete("/clients/{client_id}", summary="Soft-delete a client (admin)", operation_id="delete_client",
               **answers(None, 403, 404, 409, 422, status=204, description="Deleted"))
async def delete_client(client_id: uuid.UUID, ctx: Ctx):
    await service.delete_client(ctx, client_id)
    return Response(status_code=204)


@router.get("/clients/{client_id}/contacts", summary="List a client's contacts", operation_id="list_contacts",
            **answers(Page(ContactOut), 404))
async def list_contacts(client_id: uuid.UUID, ctx: Ctx):
    return envelope.many(contact_out(c) for c in await service.get_contacts(ctx, client_id))


@router.post("/clients/{client_id}/contacts", summary="Add a contact", operation_id="add_contact",
             **answers(One(ContactOut), 403, 404, 409, 422, status=201))
async def add_contact(client_id: uuid.UUID, body: ContactCreate, ctx: Ctx):
    return envelope.one(contact_out(await service.add_contact(ctx, client_id, body.model_dump())))


@router.patch("/clients/{client_id}/contacts/{contact_id}", summary="Update a contact", operation_id="update_contact",
              **answers(One(ContactOut), 403, 404, 409, 422))
async def update_contact(client_id: uuid.UUID, contact_id: uuid.UUID, body: ContactUpdate, ctx: Ctx):
    changes = patch_changes(body)
    return envelope.one(contact_out(await service.update_contact(ctx, client_id, contact_id, changes)))


@router.delete("/clients/{client_id}/contacts/{contact_id}", summary="Delete a contact", operation_id="delete_contact",
               **answers(None, 403, 404, 409, status=204, description="Deleted"))
async def delete_contact(client_id: uuid.UUID, contact_id: uuid.UUID, ctx: Ctx):
    await service.delete_contact(ctx, client_id, contact_id)
    return Response(status_code=204)
