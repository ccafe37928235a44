"""The one authorization policy every endpoint uses.

Two questions, asked in this order:
1. May this role perform the action at all? No → 403 (the caller learns nothing about any object).
2. May this principal see this object? No → 404, the same answer as for an object that does not exist, so
   another firm's or another client's records cannot be probed.
Admin, EA/CPA and reviewers see every client of their firm; preparers see the clients assigned to them;
a portal client sees only the clients its magic link resolved to.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, false, true

from domain.errors import Forbidden, NotFound
from domain.principal import Principal
from domain.roles import Role

_STAFF = frozenset({Role.ADMIN, Role.EA_CPA, Role.REVIEWER, Role.PREPARER})
_SENIOR = frozenset({Role.ADMIN, Role.EA_CPA, Role.REVIEWER})
_BILLING = frozenset({Role.ADMIN, Role.EA_CPA})

PERMISSIONS: dict[str, frozenset[Role]] = {
    "client.list": _STAFF,
    "client.read": _STAFF | {Role.CLIENT},
    # The system actor creates a client for a linked portal account no client matches (domain/portal/accounts.py).
    "client.create": _STAFF | {Role.SYSTEM},
    "client.update": _STAFF,
    "client.assign_preparer": _SENIOR,
    "client.delete": frozenset({Role.ADMIN}),
    "contact.list": _STAFF | {Role.CLIENT},
    "contact.write": _STAFF,
    "document.list": _STAFF | {Role.CLIENT},
    "document.read": _STAFF | {Role.CLIENT},
    "document.upload": _STAFF | {Role.CLIENT},
    "document.download": _STAFF | {Role.CLIENT},
    "document.update": _STAFF,
    "document.delete": frozenset({Role.ADMIN, Role.EA_CPA}),
    "document.checklist": _STAFF | {Role.CLIENT},
    "extraction.update": _STAFF,
    "extraction.delete": frozenset({Role.ADMIN, Role.EA_CPA}),
    "extraction.rerun": _STAFF,
    # The system actor's steps of a document's processing (domain/document/processing.py).
    "document.process": frozenset({Role.SYSTEM}),
    # Upload-first documents belong to no client yet: staff only.
    "pending_document.upload": _STAFF,
    # A file imported from the firm's document vault (SmartVault) by the system actor.
    "pending_document.import": frozenset({Role.SYSTEM}),
    "pending_document.list": _STAFF,
    # Invoices (§9): billing is for admins and EA/CPAs; reading follows client visibility.
    "invoice.list": _STAFF | {Role.CLIENT},
    "invoice.read": _STAFF | {Role.CLIENT},
    "invoice.create": _BILLING,
    "invoice.update": _BILLING,
    "invoice.send": _BILLING,
    "invoice.void": _BILLING,
    "invoice.record_payment": _BILLING,
    # The steps of a sent invoice's life its workflow takes (marked sent, overdue, mailed, reminded).
    "invoice.workflow": frozenset({Role.SYSTEM}),
    # Estimated tax payments (§11.6).
    "estimated_payment.list": _STAFF | {Role.CLIENT},
    "estimated_payment.create": _BILLING | {Role.PREPARER},
    "estimated_payment.update": _BILLING | {Role.PREPARER},
    "estimated_payment.remind": _STAFF,
    "estimated_payment.confirm": _STAFF | {Role.CLIENT},
    "estimated_payment.delete": _BILLING,
    # The §7216 disclosure log of a client (domain/disclosure/): staff who may see the client.
    "disclosure.list": _STAFF,
    # Form 7216 consents (§10): created and sent by senior staff; the taxpayer (or senior staff) revokes one.
    "consent.list": _STAFF | {Role.CLIENT},
    "consent.read": _STAFF | {Role.CLIENT},
    "consent.create": _SENIOR,
    "consent.send": _SENIOR,
    "consent.revoke": _SENIOR | {Role.CLIENT},
    # Engagement letters (§10.1–10.7).
    "engagement.list": _STAFF | {Role.CLIENT},
    "engagement.read": _STAFF | {Role.CLIENT},
    "engagement.create": _SENIOR,
    "engagement.update": _SENIOR,
    "engagement.send": _SENIOR,
    "engagement.delete": _BILLING,
    # Form 8879 of an approved return, sent to the taxpayer for e-signature.
    "form_8879.send": _SENIOR,
    "form_8879.read": _STAFF,
    # The steps of a document sent for signature that its workflow and the provider's callbacks take.
    "esign.workflow": frozenset({Role.SYSTEM}),
    # Client-portal connections (domain/portal/): admins and EA/CPAs connect and operate them; staff who may see
    # the client read them and what they imported; the system actor's syncs write the mirror.
    "portal.connect": _BILLING,
    "portal.read": _STAFF,
    "portal.sync": frozenset({Role.SYSTEM}),
    "admin.users": frozenset({Role.ADMIN}),
    "admin.config": frozenset({Role.ADMIN}),
    "admin.audit": frozenset({Role.ADMIN}),
    # The audit export's workflow recording the file it wrote.
    "audit.export_write": frozenset({Role.SYSTEM}),
    "admin.health": frozenset({Role.ADMIN}),
    # Outbound webhook endpoints, their secrets and delivery log (domain/outbound_webhook/).
    "admin.webhooks": frozenset({Role.ADMIN}),
    # Reading workflow payloads (tax data) in Temporal UI or the CLI through the codec endpoint.
    "admin.temporal_codec": frozenset({Role.ADMIN, Role.EA_CPA}),
    "return.list": _STAFF | {Role.CLIENT},
    "return.read": _STAFF | {Role.CLIENT},
    "return.create": _STAFF,
    "return.update": _STAFF,
    "return.assign": _SENIOR,
    "return.delete": frozenset({Role.ADMIN, Role.EA_CPA}),
    # Which role may take which action is the state machine's business (domain/tax_return/state_machine.py);
    # this only admits the callers that may ask at all. The service identity acts nowhere else.
    "return.transition": _STAFF | {Role.SYSTEM},
    "return.workflow_state": _STAFF | {Role.CLIENT},
    "return.analyze": _STAFF,
    # TaxReturnWorkflow's own steps besides transitions (domain/tax_return/workflow_steps.py).
    "return.workflow": frozenset({Role.SYSTEM}),
    "question.list": _STAFF | {Role.CLIENT},
    "question.create": _STAFF,
    "question.answer": frozenset({Role.CLIENT}),
    "question.skip": _STAFF,
    "message.list": _STAFF | {Role.CLIENT},
    "message.send": _STAFF | {Role.CLIENT},
    "message.read": _STAFF | {Role.CLIENT},
    # E-filing (§11): staff read a return's transmissions; admins and EA/CPAs transmit and resubmit; the
    # transmission's workflow records what the transmitter answered.
    "efile.read": _STAFF,
    "efile.transmit": frozenset({Role.ADMIN, Role.EA_CPA}),
    "efile.workflow": frozenset({Role.SYSTEM}),
    # Identity verification (§12): staff or the client start one and answer its codes; senior staff decide a
    # manual review; the verification's workflow sends codes, records Persona inquiries and expires it.
    "identity.read": _STAFF | {Role.CLIENT},
    "identity.initiate": _STAFF | {Role.CLIENT},
    "identity.verify": _STAFF | {Role.CLIENT},
    "identity.review": _SENIOR,
    "identity.workflow": frozenset({Role.SYSTEM}),
}


def allowed_roles(action: str) -> frozenset[Role]:
    return PERMISSIONS[action]


def require(principal: Principal, action: str) -> None:
    if principal.role not in PERMISSIONS[action]:
        raise Forbidden(f"The {principal.role.value} role may not perform {action}")


def can_see_client(principal: Principal, firm_id: uuid.UUID, client_id: uuid.UUID,
                   assigned_preparer_id: uuid.UUID | None) -> bool:
    if firm_id != principal.firm_id:
        return False
    if principal.sees_all_clients:
        return True
    if principal.role == Role.PREPARER:
        return assigned_preparer_id == principal.subject_id
    if principal.role == Role.CLIENT:
        return client_id in principal.client_ids
    return False


def client_visibility(principal: Principal, firm_col, client_id_col, preparer_col) -> ColumnElement[bool]:
    """The same rule as `can_see_client`, as a SQL condition: under every query of what a principal may read
    (client.service.readable_clients and the readable queries of what belongs to a client)."""
    in_firm = firm_col == principal.firm_id
    if principal.sees_all_clients:
        return in_firm & true()
    if principal.role == Role.PREPARER:
        return in_firm & (preparer_col == principal.subject_id)
    if principal.role == Role.CLIENT:
        return in_firm & client_id_col.in_(list(principal.client_ids))
    return false()


def can_see_return(principal: Principal, tax_return: Any, client: Any) -> bool:
    """A return is visible to its firm's admin/EA/reviewers, to a preparer assigned to the return OR to its
    client, and to the portal client it belongs to."""
    if tax_return.firm_id != principal.firm_id or tax_return.client_id != client.id:
        return False
    if principal.role == Role.PREPARER:
        return principal.subject_id in (tax_return.assigned_preparer_id, client.assigned_preparer_id)
    return can_see_client(principal, client.firm_id, client.id, client.assigned_preparer_id)


def ensure_return_visible(principal: Principal, tax_return: Any, client: Any) -> None:
    """Raise 404 unless the principal may see `tax_return` (of `client`)."""
    if not can_see_return(principal, tax_return, client):
        raise NotFound("Return")


def return_visibility(principal: Principal, return_firm_col, return_client_col, return_preparer_col,
                      client_preparer_col) -> ColumnElement[bool]:
    """`can_see_return` as a SQL condition; the query must join the return's client (for its preparer)."""
    in_firm = return_firm_col == principal.firm_id
    if principal.sees_all_clients:
        return in_firm & true()
    if principal.role == Role.PREPARER:
        return in_firm & ((return_preparer_col == principal.subject_id) | (client_preparer_col == principal.subject_id))
    if principal.role == Role.CLIENT:
        return in_firm & return_client_col.in_(list(principal.client_ids))
    return false()
