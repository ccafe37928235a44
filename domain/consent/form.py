"""The Form 7216 consent as the client reads and signs it: rendered from its template version (templates.py)."""

from __future__ import annotations

from domain.consent.models import Consent
from domain.consent.templates import TEMPLATES
from domain.esign.pdf import Block, render


def duration_text(consent: Consent) -> str:
    if consent.requested_expires_at is not None:
        return f"on {consent.requested_expires_at.date().isoformat()}"
    return "one year from the date I sign it"


def render_consent(consent: Consent, taxpayer: str, firm: str) -> bytes:
    template = TEMPLATES[consent.template_version]
    grant = template.grant.format(
        taxpayer=taxpayer, firm=firm, recipient=consent.third_party_name, tax_year=consent.tax_year,
        information=consent.information_covered, purpose=consent.disclosure_purpose, duration=duration_text(consent))
    blocks = [Block("title", template.title), Block("pair", "Tax return preparer", firm),
              Block("pair", "Taxpayer", taxpayer), Block("pair", "Tax year", str(consent.tax_year))]
    if consent.kind == "disclosure":
        blocks.append(Block("pair", "Recipient", consent.third_party_name))
    blocks += [Block("heading", "Consent"), Block("text", grant), Block("heading", "What you should know")]
    blocks += [Block("text", words) for words in template.statements.values()]
    blocks.append(Block("text", f"Form version {template.version}. Consent id {consent.id}."))
    return render(blocks, template.title, firm)
