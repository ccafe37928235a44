"""The planner's estimate behind a long list's total_count (issue 13, low): a filter value with a colon in it is
a value, not a bind parameter of the EXPLAIN that estimates the count."""

from __future__ import annotations

from sqlalchemy import func, literal, select

from domain.listing import EXACT_COUNT_LIMIT, _total


async def test_a_colon_in_a_filter_value_does_not_break_the_estimate(tp):
    n = func.generate_series(1, EXACT_COUNT_LIMIT + 50).column_valued("n")
    stmt = select(n).where(literal("50% off at :noon (call :me)") != "")
    async with tp.state.sessionmaker() as session:
        # past the bounded count: the planner estimates, from the statement with its values written in
        total, exact = await _total(session, stmt, EXACT_COUNT_LIMIT + 1)
    assert not exact and total > EXACT_COUNT_LIMIT
