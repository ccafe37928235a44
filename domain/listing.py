"""Lists for every resource (spec §3.5–3.6): filters, sort, sparse fields and keyset pagination.

Keyset, not OFFSET: a page is `WHERE (sort_col, id) > (last_value, last_id) ORDER BY sort_col, id LIMIT n+1`,
which an index on (firm_id, sort_col, id) answers in the same time on page 1 and page 40,000.

The total count is computed once, on the first page, and carried in the cursor. It is exact up to
EXACT_COUNT_LIMIT matching rows; past that, counting would cost more than the page (hundreds of ms at 100k
rows), so the count is Postgres's planner estimate and `total_count_exact` says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Hashable

from sqlalchemy import BigInteger, Select, func, select, tuple_
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import FieldError, ValidationFailed

DEFAULT_LIMIT = 25
EXACT_COUNT_LIMIT = 10_000
ESTIMATE_TTL_S, ESTIMATES_KEPT = 60.0, 1024  # a planner's estimate of a long list's total, kept per statement
MAX_LIMIT = 100
OPERATORS = ("eq", "gte", "lte", "in")
CONTROL_PARAMS = frozenset({"limit", "cursor", "sort", "fields"})


# What Postgres columns hold: a value outside is a 400 here, not a failed query.
INT4_RANGE = (-2**31, 2**31 - 1)
INT8_RANGE = (-2**63, 2**63 - 1)
# Postgres numeric cannot take an exponent much past this (1e999999 fails in the query); no amount comes near.
MAX_DECIMAL_EXPONENT = 100
_ASCII_INTEGER = re.compile(r"-?[0-9]{1,19}")


def _parse_uuid(raw: str) -> uuid.UUID:
    return uuid.UUID(raw)


def _parse_int(raw: str) -> int:
    """ASCII digits only: int() would also take "٣", "2_025" and surrounding spaces."""
    if not _ASCII_INTEGER.fullmatch(raw):
        raise ValueError(raw)
    return int(raw)


def _parse_decimal(raw: str) -> Decimal:
    value = Decimal(raw)
    if not value.is_finite() or abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:  # NaN, Infinity, 1e999999
        raise ValueError(raw)
    return value


def _parse_datetime(raw: str) -> datetime:
    """ISO 8601; without an offset it is UTC (as in request bodies), whatever the server's time zone."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


def _parse_bool(raw: str) -> bool:
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise ValueError(raw)


PARSERS: dict[type, Callable[[str], Any]] = {
    str: str, int: _parse_int, uuid.UUID: _parse_uuid, datetime: _parse_datetime, date: date.fromisoformat,
    Decimal: _parse_decimal, bool: _parse_bool,
}


def _int_range(column: Any) -> tuple[int, int]:
    return INT8_RANGE if isinstance(column.type, BigInteger) else INT4_RANGE


def _storable_text(value: str) -> bool:
    """Postgres text holds neither NUL nor a lone surrogate (which JSON's "\\ud800" can carry)."""
    return "\x00" not in value and not any("\ud800" <= ch <= "\udfff" for ch in value)


@dataclass(frozen=True)
class Filterable:
    column: Any
    type: type = str
    operators: tuple[str, ...] = ("eq", "in")
    # Allowed values for enum-like fields: anything else is a 400, not an empty list.
    choices: frozenset[str] | None = None


@dataclass(frozen=True)
class ListSpec:
    """What a resource's list accepts: filterable fields, sortable (non-null) columns, output fields."""

    filters: dict[str, Filterable]
    sortable: dict[str, Any]
    id_column: Any
    default_sort: str
    # The one definition of a list item's fields: the API renders exactly these (api/envelope.page checks it),
    # and `fields=` may ask for any of them.
    output_fields: frozenset[str]
    extra_params: frozenset[str] = frozenset()  # resource-specific parameters such as `search`


@dataclass
class ListQuery:
    conditions: list = field(default_factory=list)
    sort_field: str = ""
    descending: bool = False
    limit: int = DEFAULT_LIMIT
    cursor: dict | None = None
    fields: frozenset[str] | None = None  # the fields the caller asked for (`fields=`), None: all of them
    output_fields: frozenset[str] = frozenset()  # every field of an item: the ListSpec's
    extras: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    items: list
    next_cursor: str | None
    has_more: bool
    total_count: int
    total_count_exact: bool = True


def _bad(field_name: str, code: str, message: str) -> ValidationFailed:
    return ValidationFailed("One or more query parameters failed validation", [FieldError(field_name, code, message)])


def _convert(name: str, spec: Filterable, raw: str) -> Any:
    if spec.choices is not None and raw not in spec.choices:
        raise _bad(name, "invalid_choice", f"{name} must be one of: {', '.join(sorted(spec.choices))}")
    try:
        value = PARSERS[spec.type](raw)
    except (ValueError, TypeError, InvalidOperation):
        raise _bad(name, "invalid_format", f"{name} is not a valid {spec.type.__name__}") from None
    if spec.type is int:
        low, high = _int_range(spec.column)
        if not low <= value <= high:
            raise _bad(name, "out_of_range", f"{name} must be from {low} to {high}")
    return value


def parse_list_query(params: list[tuple[str, str]], spec: ListSpec) -> ListQuery:
    """Turn raw query parameters into a validated ListQuery; anything unknown or malformed is a 400."""
    query = ListQuery(sort_field=spec.default_sort.lstrip("-"), descending=spec.default_sort.startswith("-"),
                      output_fields=spec.output_fields)
    seen: set[str] = set()
    for name, raw in params:
        if name in seen and not name.endswith("__in"):
            raise _bad(name, "duplicate", f"{name} was given more than once")
        seen.add(name)
        if "\x00" in raw:  # Postgres text cannot hold NUL: refuse it here rather than fail in the query
            raise _bad(name, "invalid_format", f"{name} must not contain NUL characters")
        if name == "limit":
            if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:  # not "²" or "①"
                raise _bad("limit", "out_of_range", f"limit must be an integer from 1 to {MAX_LIMIT}")
            query.limit = int(raw)
        elif name == "cursor":
            query.cursor = _decode_cursor(raw)
        elif name == "sort":
            field_name = raw.lstrip("-")
            if field_name not in spec.sortable:
                raise _bad("sort", "invalid_field", f"sort must be one of: {', '.join(sorted(spec.sortable))}")
            query.sort_field, query.descending = field_name, raw.startswith("-")
        elif name == "fields":
            requested = frozenset(f.strip() for f in raw.split(",") if f.strip())
            unknown = requested - spec.output_fields
            if not requested or unknown:
                raise _bad("fields", "invalid_field", f"unknown fields: {', '.join(sorted(unknown)) or '(none)'}")
            query.fields = requested | {"id"}
        elif name in spec.extra_params:
            query.extras[name] = raw
        else:
            base, _, op = name.partition("__")
            op = op or "eq"
            filt = spec.filters.get(base)
            if filt is None or op not in filt.operators:
                raise _bad(name, "unknown_parameter", f"{name} is not a supported query parameter")
            if op == "in":
                values = [_convert(base, filt, v) for v in raw.split(",") if v != ""]
                if not values:
                    raise _bad(name, "invalid_format", f"{name} needs at least one value")
                query.conditions.append(filt.column.in_(values))
            else:
                value = _convert(base, filt, raw)
                # Build only the requested comparison: `>=` on a boolean column is not even expressible.
                query.conditions.append({"eq": lambda: filt.column == value, "gte": lambda: filt.column >= value,
                                         "lte": lambda: filt.column <= value}[op]())
    if query.cursor is not None and query.cursor.get("s") != ("-" if query.descending else "") + query.sort_field:
        raise _bad("cursor", "invalid_cursor", "cursor does not belong to this sort order")
    return query


def _encode_cursor(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).rstrip(b"=").decode()


def _decode_cursor(raw: str) -> dict:
    try:
        padded = raw + "=" * (-len(raw) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not (isinstance(data, dict) and {"s", "v", "id", "t"} <= data.keys() and isinstance(data["t"], int)):
            raise ValueError
        return data
    except (ValueError, binascii.Error, UnicodeDecodeError, json.JSONDecodeError, TypeError):
        raise _bad("cursor", "invalid_cursor", "cursor is not a cursor this API issued") from None


def _cursor_value(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, Decimal)):
        return str(value)
    return value


def _restore_value(column: Any, raw: Any) -> Any:
    """A cursor's value as the column's type. The cursor came back from the caller, so it is checked like any
    input: an integer column takes an in-range int, every other column a string Postgres can hold."""
    invalid = _bad("cursor", "invalid_cursor", "cursor is not a cursor this API issued")
    python_type = column.type.python_type
    if python_type is int:
        low, high = _int_range(column)
        if type(raw) is not int or not low <= raw <= high:
            raise invalid
        return raw
    if not isinstance(raw, str) or not _storable_text(raw):
        raise invalid
    try:
        if python_type is datetime:
            return datetime.fromisoformat(raw)
        if python_type is date:
            return date.fromisoformat(raw)
        if python_type is Decimal:
            return _parse_decimal(raw)
        return python_type(raw)
    except (ValueError, TypeError, InvalidOperation):
        raise invalid from None


async def paginate(session: AsyncSession, stmt: Select, query: ListQuery, spec: ListSpec,
                   sort_value: Callable[[Any], Any] | None = None) -> Page:
    """Run `stmt` (already scoped to what the caller may see) as one keyset page.

    `stmt` selects either one ORM entity or columns (an item is then the row, read by the columns' names; a list
    that shows a few columns reads only those, without building an ORM object per row). Either way the items'
    attribute names match the ListSpec's sortable keys and include `id`.
    """
    sort_col = spec.sortable[query.sort_field]
    id_col = spec.id_column
    stmt = stmt.where(*query.conditions)
    entities = _selects_one_entity(stmt)

    order = (sort_col.desc(), id_col.desc()) if query.descending else (sort_col.asc(), id_col.asc())
    if query.cursor is None:
        # The first page and its bounded count in one statement (one round trip; Postgres runs the uncorrelated
        # subquery once). No row means nothing matched: a count of 0.
        page_stmt = stmt.add_columns(_bounded_count(stmt)).order_by(*order).limit(query.limit + 1)
        counted_rows = (await session.execute(page_stmt)).all()
        rows = [row[0] for row in counted_rows] if entities else counted_rows  # a row's extra column: harmless
        total, exact = await _total(session, stmt, counted_rows[0][-1] if counted_rows else 0)
    else:
        total, exact = query.cursor["t"], query.cursor.get("x", True)
        last_value = _restore_value(sort_col, query.cursor["v"])
        last_id = _restore_value(id_col, query.cursor["id"])
        if query.descending:
            stmt = stmt.where(tuple_(sort_col, id_col) < tuple_(last_value, last_id))
        else:
            stmt = stmt.where(tuple_(sort_col, id_col) > tuple_(last_value, last_id))
        result = await session.execute(stmt.order_by(*order).limit(query.limit + 1))
        rows = result.scalars().all() if entities else result.all()
    has_more = len(rows) > query.limit
    items = list(rows[: query.limit])
    next_cursor = None
    if has_more:
        last = items[-1]
        value = sort_value(last) if sort_value else getattr(last, query.sort_field)
        next_cursor = _encode_cursor({
            "s": ("-" if query.descending else "") + query.sort_field,
            "v": _cursor_value(value),
            "id": _cursor_value(last.id),
            "t": total,
            "x": exact,
        })
    return Page(items=items, next_cursor=next_cursor, has_more=has_more, total_count=total, total_count_exact=exact)


def _selects_one_entity(stmt: Select) -> bool:
    descriptions = stmt.column_descriptions
    return len(descriptions) == 1 and isinstance(descriptions[0]["expr"], type)


def _bounded_count(stmt: Select):
    """How many rows `stmt` matches, counted up to EXACT_COUNT_LIMIT + 1 (bounded work), as a scalar subquery."""
    bounded = stmt.order_by(None).with_only_columns(stmt.selected_columns[0]).limit(EXACT_COUNT_LIMIT + 1)
    return select(func.count()).select_from(bounded.subquery()).scalar_subquery()


class _Estimates:
    """The planner's row estimates of recent statements, for ESTIMATE_TTL_S, at most ESTIMATES_KEPT of them.

    An estimate is a statistic of the table, not a count, and it moves only when ANALYZE runs; asking the planner
    again for every first page of a long list (a statement compiled with its values written in, and an EXPLAIN
    round trip) was a sixth of that page's CPU (bench/bench_client.py). Keyed by the statement's SQLAlchemy
    cache key and its parameter values: the same list with the same filters, for the same firm."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Hashable, tuple[float, int]] = OrderedDict()

    @staticmethod
    def key(stmt: Select) -> Hashable | None:
        cache_key = stmt._generate_cache_key()
        if cache_key is None:  # a construct that cannot be cached
            return None
        key = (cache_key.key, tuple(bind.effective_value for bind in cache_key.bindparams))
        try:
            hash(key)
        except TypeError:  # a list-valued parameter (an IN filter)
            return None
        return key

    def get(self, key: Hashable) -> int | None:
        kept = self._kept.get(key)
        if kept is None or kept[0] < time.monotonic():
            return None
        return kept[1]

    def put(self, key: Hashable, rows: int) -> None:
        self._kept[key] = (time.monotonic() + ESTIMATE_TTL_S, rows)
        self._kept.move_to_end(key)
        while len(self._kept) > ESTIMATES_KEPT:
            self._kept.popitem(last=False)


_estimates = _Estimates()


async def _total(session: AsyncSession, stmt: Select, counted: int) -> tuple[int, bool]:
    """The bounded count when it is exact, else the planner's row estimate."""
    if counted <= EXACT_COUNT_LIMIT:
        return counted, True
    stmt = stmt.order_by(None)
    key = _estimates.key(stmt)
    if key is not None and (rows := _estimates.get(key)) is not None:
        return max(rows, counted), False
    try:
        compiled = stmt.compile(dialect=session.bind.dialect, compile_kwargs={"literal_binds": True})
    except (CompileError, NotImplementedError):  # a parameter type without a literal form: say "more than"
        return counted, False
    # Sent to the driver as it is: through text(), a filter value holding ":name" read as a bind parameter (a 500).
    # The values in it are SQLAlchemy's literal renderings, quoted and escaped.
    plan = (await (await session.connection()).exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
    rows = int(plan[0]["Plan"]["Plan Rows"])
    if key is not None:
        _estimates.put(key, rows)
    return max(rows, counted), False
