"""Form 8879, IRS e-file Signature Authorization: sent to the taxpayer through the e-signature provider once the
return is approved, and kept, signed and sealed, as the return's FORM_8879 document with the evidence IRS
Pub. 1345 asks of a remote signature (signer's IP address, login id, time, identity-verification result).

The PDF is a plain rendering of the form's declarations and the return's figures, not the IRS's own layout
(docs/esign.md). Its return figures leave for the e-signature provider under the gate's regulatory exception
`esignature_of_return` (a disclosure log row every time)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from domain import policy
from domain.client.models import Client
from domain.context import ServiceContext
from domain.disclosure import gate
from domain.disclosure.basis import DisclosurePurpose, RegulatoryException
from domain.errors import BusinessRuleViolation, NotFound
from domain.esign.pdf import Block, render
from domain.tax_return.models import TaxReturn
from domain.tax_return.service import load_visible_return

RECIPIENT = "E-signature provider"


def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def render_8879(tax_return: TaxReturn, taxpayer: str, firm: str) -> bytes:
    title = f"Form 8879, IRS e-file Signature Authorization, tax year {tax_return.tax_year}"
    blocks = [
        Block("title", title),
        Block("pair", "Taxpayer", taxpayer), Block("pair", "Electronic return originator (ERO)", firm),
        Block("pair", "Return", f"Form {tax_return.return_type}, tax year {tax_return.tax_year}"),
        Block("heading", "Part I - Tax Return Information"),
        Block("pair", "Refund", _money(tax_return.estimated_refund)),
        Block("pair", "Amount you owe", _money(tax_return.estimated_tax_due)),
        Block("heading", "Part II - Taxpayer Declaration and Signature Authorization"),
        Block("text", "Under penalties of perjury, I declare that I have examined a copy of my electronic individual "
                      f"income tax return and accompanying schedules and statements for the tax year "
                      f"{tax_return.tax_year}, and to the best of my knowledge and belief, it is true, correct, and "
                      "complete. I further declare that the amounts in Part I above are the amounts from my "
                      "electronic income tax return. I consent to allow my ERO, transmitter, or intermediate service "
                      "provider to send my return to the IRS and to receive from the IRS an acknowledgement of "
                      "receipt or reason for rejection of the transmission and the reason for any delay in processing "
                      "the return or refund."),
        Block("text", "I authorize the ERO to enter or generate my PIN as my signature on my tax year "
                      f"{tax_return.tax_year} electronically filed income tax return. By typing my name below I sign "
                      "this authorization electronically."),
        Block("text", f"Return id {tax_return.id}."),
    ]
    return render(blocks, title, firm)


async def check_sendable(ctx: ServiceContext, return_id: uuid.UUID) -> tuple[TaxReturn, Client]:
    """An approved return whose client has an email address, and the gate's consent to let its figures go to the
    e-signature provider (its disclosure log row is written here, in the caller's transaction)."""
    policy.require(ctx.principal, "form_8879.send")
    tax_return, client = await load_visible_return(ctx, return_id)
    if tax_return.status not in ("approved", "pending_signature"):
        raise BusinessRuleViolation(f"The return is {tax_return.status}: Form 8879 is sent once it is approved",
                                    code="form_8879_not_sendable")
    if not client.email:
        raise BusinessRuleViolation("The client has no email address to send Form 8879 to",
                                    code="form_8879_not_sendable")
    decision = await gate.authorize(ctx, gate.Disclosure(
        client_id=client.id, recipient=RECIPIENT, purpose=DisclosurePurpose.RETURN_SIGNATURE,
        information="form_8879", tax_year=tax_return.tax_year, entity_type="tax_return", entity_id=tax_return.id,
        exception=RegulatoryException.ESIGNATURE_OF_RETURN))
    if not decision.allowed:  # an exception always allows; kept so a future rule that refuses is honoured here
        raise BusinessRuleViolation("The disclosure gate refused", code="disclosure_refused")
    return tax_return, client


async def on_signature(ctx: ServiceContext, return_id: uuid.UUID, outcome: str, at: datetime) -> str | None:
    """The taxpayer signed or declined Form 8879. The return moves on through its workflow (the webhook hands
    `signature_received` to it); here only what refuses the callback."""
    policy.require(ctx.principal, "esign.workflow")
    tax_return = await ctx.session.get(TaxReturn, return_id)
    if tax_return is None or tax_return.firm_id != ctx.principal.firm_id:
        raise NotFound("Return")
    if tax_return.status not in ("approved", "pending_signature"):
        return f"the return is {tax_return.status}"
    await ctx.audit(f"form_8879.{outcome}", "tax_return", return_id, client_id=tax_return.client_id,
                    details={"at": at.isoformat()})
    return None
