"""The engagement letter as the client reads and signs it, rendered from the engagement's terms."""

from __future__ import annotations

from decimal import Decimal

from domain.engagement.models import Engagement
from domain.esign.pdf import Block, render

TYPE_NAMES = {"tax_prep": "tax return preparation", "tax_planning": "tax planning", "bookkeeping": "bookkeeping",
              "advisory": "advisory services", "representation": "representation before the IRS"}
TEMPLATE_VERSION = "engagement-letter-2026.1"


def _money(value) -> str:
    return f"${Decimal(str(value)):,.2f}"


def fee_lines(fee: dict) -> list[Block]:
    labels = {"base_fee": "Base fee", "additional_forms": "Each additional form", "hourly_rate": "Hourly rate",
              "retainer": "Retainer"}
    blocks = [Block("pair", "Fee structure", str(fee.get("type", "fixed")).replace("_", " "))]
    blocks += [Block("pair", label, _money(fee[key])) for key, label in labels.items() if fee.get(key) is not None]
    return blocks


def render_letter(engagement: Engagement, client_name: str, firm_name: str) -> bytes:
    service = TYPE_NAMES.get(engagement.engagement_type, engagement.engagement_type)
    title = f"Engagement Letter: {service.capitalize()}, tax year {engagement.tax_year}"
    blocks = [
        Block("title", title),
        Block("pair", "Firm", firm_name), Block("pair", "Client", client_name),
        Block("pair", "Tax year", str(engagement.tax_year)),
        Block("heading", "Scope of the engagement"),
        Block("text", f"{firm_name} will provide {service} for the tax year {engagement.tax_year}, covering: "
                      f"{', '.join(engagement.services)}. We will prepare the returns from the information you "
                      "provide; we do not audit or verify it, and you are responsible for its completeness and "
                      "accuracy and for keeping the records that support it."),
        Block("heading", "Fees"), *fee_lines(engagement.fee_structure),
        Block("text", "Work outside this scope is agreed in writing before it starts."),
        Block("heading", "Your information"),
        Block("text", "We keep your information confidential. We disclose tax return information to others only "
                      "as the law permits or with your separate written consent (IRS Form 7216)."),
        Block("heading", "Agreement"),
        Block("text", "By signing you agree to the terms of this letter. Either party may end the engagement by "
                      "written notice; fees for work done until then remain due."),
        Block("text", f"Letter version {TEMPLATE_VERSION}. Engagement id {engagement.id}."),
    ]
    return render(blocks, title, firm_name)
