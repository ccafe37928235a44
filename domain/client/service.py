"""Client rules: who sees which client, account numbers, SSN handling, soft delete, contacts."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone

from sqlalchemy import Select, func, select, update

from domain import policy
from domain.client.models import Client, ClientContact
from domain.context import ServiceContext
from domain.crypto import FieldCipher
from domain.errors import BusinessRuleViolation, FieldError, Forbidden, NotFound
from domain.listing import Filterable, ListQuery, ListSpec, Page, paginate
from domain.numbering import next_formatted
from domain.roles import Role
from domain.user.models import User

# The one definition of each (api/schemas/client.py reads them).
CLIENT_TYPES = ("individual", "business", "trust", "nonprofit")
CLIENT_STATUSES = ("active", "inactive", "closed")

CLIENT_LIST_SPEC = ListSpec(
    filters={
        "status": Filterable(Client.status, choices=frozenset(CLIENT_STATUSES)),
        "client_type": Filterable(Client.client_type, choices=frozenset(CLIENT_TYPES)),
        "assigned_preparer_id": Filterable(Client.assigned_preparer_id, uuid.UUID),
        "account_number": Filterable(Client.account_number),
        "created_at": Filterable(Client.created_at, datetime, ("gte", "lte")),
        "updated_at": Filterable(Client.updated_at, datetime, ("gte", "lte")),
    },
    sortable={"created_at": Client.created_at, "updated_at": Client.updated_at, "name": Client.name,
              "account_number": Client.account_number},
    id_column=Client.id,
    default_sort="created_at",
    output_fields=frozenset({"id", "account_number", "client_type", "name", "email", "phone", "status",
                             "assigned_preparer_id", "created_at", "updated_at"}),
    extra_params=frozenset({"search"}),
)
# What a page of the list reads: the columns its items show, which are named as their fields. The key first: the
# bounded count counts the statement's first column (domain/listing._bounded_count), as the bare SQL does.
LIST_COLUMNS = (Client.id, *(getattr(Client, name) for name in sorted(CLIENT_LIST_SPEC.output_fields - {"id"})))

_SEARCH_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)


def search_condition(text: str):
    """Word-prefix match of every term: 'smi jo' finds 'John Smith'. Terms are reduced to letters and digits,
    so nothing a caller types reaches the tsquery parser as syntax."""
    terms = _SEARCH_TOKEN.findall(text.lower())[:8]
    if not terms:
        return None
    return Client.search_vector.op("@@")(func.to_tsquery("simple", " & ".join(f"{t}:*" for t in terms)))


def readable_clients(ctx: ServiceContext) -> Select:
    """The clients the caller may read: the one query of client visibility, under every list and every load."""
    return select(Client).where(
        policy.client_visibility(ctx.principal, Client.firm_id, Client.id, Client.assigned_preparer_id),
        Client.deleted_at.is_(None))


async def list_clients(ctx: ServiceContext, query: ListQuery) -> Page:
    """Items are rows of LIST_COLUMNS: a page reads neither the encrypted SSN, the address nor the search vector,
    and builds no ORM object (a fifth of the API's CPU on a page of 25, session 27)."""
    policy.require(ctx.principal, "client.list")
    stmt = readable_clients(ctx).with_only_columns(*LIST_COLUMNS)
    if "search" in query.extras:
        condition = search_condition(query.extras["search"])
        if condition is None:
            return Page(items=[], next_cursor=None, has_more=False, total_count=0)
        stmt = stmt.where(condition)
    page = await paginate(ctx.session, stmt, query, CLIENT_LIST_SPEC)
    # A list shows names, emails and phones: a read of client PII, audited once per page.
    await ctx.audit_read("client.list", "client", details={"count": len(page.items)})
    return page


async def load_visible_client(ctx: ServiceContext, client_id: uuid.UUID) -> Client:
    """The client, if it exists, is not deleted and the caller may see it; else 404 (never 403)."""
    client = (await ctx.session.execute(readable_clients(ctx).where(Client.id == client_id))).scalar_one_or_none()
    if client is None:
        raise NotFound("Client")
    return client


async def list_contacts(ctx: ServiceContext, client_id: uuid.UUID) -> list[ClientContact]:
    rows = await ctx.session.execute(
        select(ClientContact)
        .where(ClientContact.client_id == client_id, ClientContact.deleted_at.is_(None))
        .order_by(ClientContact.created_at, ClientContact.id)
    )
    return list(rows.scalars())


async def get_client(ctx: ServiceContext, client_id: uuid.UUID) -> tuple[Client, list[ClientContact]]:
    policy.require(ctx.principal, "client.read")
    client = await load_visible_client(ctx, client_id)
    await ctx.audit("client.read_pii", "client", client.id, client_id=client.id)
    return client, await list_contacts(ctx, client.id)


async def _check_preparer(ctx: ServiceContext, preparer_id: uuid.UUID) -> None:
    user = await ctx.session.get(User, preparer_id)
    if user is None or user.firm_id != ctx.principal.firm_id or not user.is_active or user.role != Role.PREPARER:
        raise BusinessRuleViolation(
            "assigned_preparer_id must be an active preparer of this firm",
            [FieldError("assigned_preparer_id", "invalid_reference", "not an active preparer of this firm")],
        )


def ssn_associated_data(client_id: uuid.UUID) -> bytes:
    """The client id binds the ciphertext to its row: a blob copied into another client will not decrypt."""
    return client_id.bytes


def _set_ssn(client: Client, ssn: str | None, cipher: FieldCipher) -> None:
    if ssn is None:
        client.ssn_encrypted, client.ssn_last4 = None, None
        return
    digits = ssn.replace("-", "")
    client.ssn_encrypted = cipher.encrypt(digits, associated_data=ssn_associated_data(client.id))
    client.ssn_last4 = digits[-4:]


async def create_client(ctx: ServiceContext, data: dict, cipher: FieldCipher) -> Client:
    policy.require(ctx.principal, "client.create")
    preparer_id = data.get("assigned_preparer_id")
    if ctx.principal.role == Role.PREPARER:
        # A preparer's new client is theirs, or they could not see what they just created.
        if preparer_id not in (None, ctx.principal.subject_id):
            raise Forbidden("Only admin, EA/CPA and reviewers assign clients to other preparers")
        preparer_id = ctx.principal.subject_id
    if preparer_id is not None:
        await _check_preparer(ctx, preparer_id)
    year = datetime.now(timezone.utc).year
    client = Client(
        id=uuid.uuid4(),
        firm_id=ctx.principal.firm_id,
        account_number=await next_formatted(ctx.session, ctx.principal.firm_id, "C", year),
        client_type=data["client_type"],
        name=data["name"],
        email=data.get("email"),
        phone=data.get("phone"),
        address=data.get("address"),
        date_of_birth=data.get("date_of_birth"),
        status=data.get("status") or "active",
        identity_verification_status="unverified",
        assigned_preparer_id=preparer_id,
    )
    _set_ssn(client, data.get("ssn"), cipher)
    ctx.session.add(client)
    await ctx.session.flush()
    await ctx.audit("client.create", "client", client.id, client_id=client.id,
                    details={"fields": sorted(k for k in data if k != "ssn") + (["ssn"] if data.get("ssn") else [])})
    return client


async def update_client(ctx: ServiceContext, client_id: uuid.UUID, changes: dict, cipher: FieldCipher) -> Client:
    policy.require(ctx.principal, "client.update")
    client = await load_visible_client(ctx, client_id)
    if "assigned_preparer_id" in changes:
        policy.require(ctx.principal, "client.assign_preparer")
        if changes["assigned_preparer_id"] is not None:
            await _check_preparer(ctx, changes["assigned_preparer_id"])
    for name, value in changes.items():
        if name == "ssn":
            _set_ssn(client, value, cipher)
        elif name == "address" and value is not None:
            # PATCH semantics reach into the address: {"address": {"street1": …}} keeps city, state and zip.
            client.address = {**(client.address or {}), **value}
        else:
            setattr(client, name, value)
    client.updated_at = datetime.now(timezone.utc)
    await ctx.session.flush()
    await ctx.audit("client.update", "client", client.id, client_id=client.id, details={"fields": sorted(changes)})
    return client


async def delete_client(ctx: ServiceContext, client_id: uuid.UUID) -> None:
    policy.require(ctx.principal, "client.delete")
    client = await load_visible_client(ctx, client_id)
    client.deleted_at = datetime.now(timezone.utc)
    await ctx.audit("client.delete", "client", client.id, client_id=client.id)


async def _load_contact(ctx: ServiceContext, client_id: uuid.UUID, contact_id: uuid.UUID) -> ClientContact:
    contact = await ctx.session.get(ClientContact, contact_id)
    if contact is None or contact.client_id != client_id or contact.deleted_at is not None:
        raise NotFound("Contact")
    return contact


async def get_contacts(ctx: ServiceContext, client_id: uuid.UUID) -> list[ClientContact]:
    policy.require(ctx.principal, "contact.list")
    client = await load_visible_client(ctx, client_id)
    await ctx.audit("contact.list", "client", client.id, client_id=client.id)
    return await list_contacts(ctx, client.id)


async def add_contact(ctx: ServiceContext, client_id: uuid.UUID, data: dict) -> ClientContact:
    policy.require(ctx.principal, "contact.write")
    client = await load_visible_client(ctx, client_id)
    contact = ClientContact(id=uuid.uuid4(), client_id=client.id, **data)
    if contact.is_primary:
        await _demote_primary(ctx, client.id, contact.id)
    ctx.session.add(contact)
    await ctx.session.flush()
    await ctx.audit("contact.create", "client_contact", contact.id, client_id=client.id)
    return contact


async def update_contact(ctx: ServiceContext, client_id: uuid.UUID, contact_id: uuid.UUID,
                         changes: dict) -> ClientContact:
    policy.require(ctx.principal, "contact.write")
    client = await load_visible_client(ctx, client_id)
    contact = await _load_contact(ctx, client.id, contact_id)
    if changes.get("is_primary") and not contact.is_primary:
        await _demote_primary(ctx, client.id, contact.id)
    for name, value in changes.items():
        setattr(contact, name, value)
    contact.updated_at = datetime.now(timezone.utc)
    await ctx.session.flush()
    await ctx.audit("contact.update", "client_contact", contact.id, client_id=client.id,
                    details={"fields": sorted(changes)})
    return contact


async def _demote_primary(ctx: ServiceContext, client_id: uuid.UUID, new_primary_id: uuid.UUID) -> None:
    """A client has one primary contact: the one being made primary takes over from the previous one."""
    await ctx.session.execute(
        update(ClientContact)
        .where(ClientContact.client_id == client_id, ClientContact.is_primary, ClientContact.id != new_primary_id)
        .values(is_primary=False, updated_at=datetime.now(timezone.utc)))


async def delete_contact(ctx: ServiceContext, client_id: uuid.UUID, contact_id: uuid.UUID) -> None:
    policy.require(ctx.principal, "contact.write")
    client = await load_visible_client(ctx, client_id)
    contact = await _load_contact(ctx, client.id, contact_id)
    contact.deleted_at = datetime.now(timezone.utc)
    await ctx.audit("contact.delete", "client_contact", contact.id, client_id=client.id)
