"""What a log may carry (issue 13, low): a failed statement's exception names no bound value."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError


async def test_a_failed_statement_does_not_carry_its_bound_values(tp):
    async with tp.state.sessionmaker() as session:
        with pytest.raises(DBAPIError) as failed:
            await session.execute(text("SELECT 1 / 0 WHERE :email = :email"), {"email": "jane.doe@client.example"})
    assert "jane.doe@client.example" not in str(failed.value)


def test_the_access_log_keeps_paths_without_their_query_strings():
    """uvicorn's access line, as it formats it, after our filter: the search term and email are gone."""
    import logging

    from api.access_log import DropQueryStrings

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/v1/clients?search=Jane+Doe&email=jane%40x.example",
                                "1.1", 200), None)
    assert DropQueryStrings().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /v1/clients HTTP/1.1" 200'
