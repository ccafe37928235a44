"""The spec §3.2 envelopes: `{"data", "meta"}` and, for lists, `pagination`."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from api.request_context import meta
from domain.listing import ListQuery, Page


def one(data: Any) -> dict:
    return {"data": data, "meta": meta()}


def sparse(item: dict, fields: frozenset[str] | None) -> dict:
    return item if fields is None else {k: v for k, v in item.items() if k in fields}


def page(result: Page, query: ListQuery, render: Callable[[Any], dict]) -> dict:
    return {
        "data": [sparse(render(item), query.fields) for item in result.items],
        "meta": meta(),
        "pagination": {"cursor": result.next_cursor, "has_more": result.has_more,
                       "total_count": result.total_count, "total_count_exact": result.total_count_exact},
    }


def many(items: Iterable[dict]) -> dict:
    """A short, unpaginated list (a client's contacts): same envelope, the whole list in one page."""
    data = list(items)
    return {"data": data, "meta": meta(), "pagination": {"cursor": None, "has_more": False,
                                                        "total_count": len(data), "total_count_exact": True}}
