"""Money is `Decimal` with two places, end to end: request bodies, Postgres NUMERIC(14,2), Temporal payloads
(pydantic converter) and responses. Stripe takes integer cents; the conversion happens only here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# NUMERIC(14,2): up to 999,999,999,999.99.
MAX_AMOUNT = Decimal("999999999999.99")


def money(value: Decimal | int | str) -> Decimal:
    """Exact two-place Decimal. Callers validate first; this never rounds a fractional cent silently."""
    amount = Decimal(value)
    if amount != amount.quantize(CENT):
        raise ValueError(f"{value} has a fraction of a cent")
    return amount.quantize(CENT)


def to_cents(amount: Decimal) -> int:
    return int(money(amount) * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def split_evenly(total: Decimal, parts: int) -> list[Decimal]:
    """`total` in `parts` amounts that differ by at most a cent and add up exactly; earlier parts take the
    leftover cents (20000.02 / 4 → 5000.01, 5000.01, 5000.00, 5000.00)."""
    cents = to_cents(total)
    base, extra = divmod(cents, parts)
    return [from_cents(base + (1 if i < extra else 0)) for i in range(parts)]


def line_amount(quantity: int, unit_price: Decimal) -> Decimal:
    return (unit_price * quantity).quantize(CENT, rounding=ROUND_HALF_UP)
