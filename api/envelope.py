"""The spec §3.2 envelopes: `{"data", "meta"}` and, for lists, `pagination`."""

from __future__ import annotations

from typing import Any, Callable, Iterable

from api.request_context import meta
from domain.listing import ListQuery, Page


def one(data: Any) -> dict:
    return {"data": data, "meta": meta()}


def _item(rendered: dict, query: ListQuery) -> dict:
    """A list item has exactly the fields its ListSpec defines (domain/, the one definition; `fields=` picks
    some of them): a renderer that adds or omits one is a bug, caught by any test that lists that resource."""
    if rendered.keys() != query.output_fields:
        raise RuntimeError(f"list item fields differ from the ListSpec's: "
                           f"{sorted(rendered.keys() ^ query.output_fields)}")
    return rendered if query.fields is None else {k: v for k, v in rendered.items() if k in query.fields}


def page(result: Page, query: ListQuery, render: Callable[[Any], dict]) -> dict:
    return {
        "data": [_item(render(item), query) for item in result.items],
        "meta": meta(),
        "pagination": {"cursor": result.next_cursor, "has_more": result.has_more,
                       "total_count": result.total_count, "total_count_exact": result.total_count_exact},
    }


def many(items: Iterable[dict]) -> dict:
    """A short, unpaginated list (a client's contacts): same envelope, the whole list in one page."""
    data = list(items)
    return {"data": data, "meta": meta(), "pagination": {"cursor": None, "has_more": False,
                                                        "total_count": len(data), "total_count_exact": True}}
