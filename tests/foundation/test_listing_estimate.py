"""The planner's estimate behind a long list's total_count (issue 13, low): a filter value with a colon in it is
a value, not a bind parameter of the EXPLAIN that estimates the count."""

from __future__ import annotations

from sqlalchemy import event, func, literal, select

from domain.listing import EXACT_COUNT_LIMIT, _total


async def test_a_colon_in_a_filter_value_does_not_break_the_estimate(tp):
    n = func.generate_series(1, EXACT_COUNT_LIMIT + 50).column_valued("n")
    stmt = select(n).where(literal("50% off at :noon (call :me)") != "")
    async with tp.state.sessionmaker() as session:
        # past the bounded count: the planner estimates, from the statement with its values written in
        total, exact = await _total(session, stmt, EXACT_COUNT_LIMIT + 1)
    assert not exact and total > EXACT_COUNT_LIMIT


async def test_an_estimate_is_asked_once_per_statement_and_values(tp):
    """A long list's first page asks the planner once a minute, not per request; other values ask again."""
    explains = []

    def count_explains(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("EXPLAIN"):
            explains.append(statement)

    n = func.generate_series(1, EXACT_COUNT_LIMIT + 50).column_valued("n")
    engine = tp.state.sessionmaker.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", count_explains)
    try:
        async with tp.state.sessionmaker() as session:
            for marker in ("first", "first", "second", "first"):
                stmt = select(n).where(literal(f"estimate {marker} {id(explains)}") != "")
                total, exact = await _total(session, stmt, EXACT_COUNT_LIMIT + 1)
                assert not exact and total > EXACT_COUNT_LIMIT
            # an IN filter's list value keys nothing: asked every time, still answered
            for _ in range(2):
                stmt = select(n).where(n.in_([1, 2, EXACT_COUNT_LIMIT + 3]) | (n > 0))
                assert (await _total(session, stmt, EXACT_COUNT_LIMIT + 1))[1] is False
    finally:
        event.remove(engine, "before_cursor_execute", count_explains)
    assert len(explains) == 2 + 2, explains
