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
