"""The static service token (issue 13, medium 8): a credential in development and tests only, and long enough to
be a secret wherever it is set."""

from __future__ import annotations

import httpx
import pytest
from pydantic import ValidationError

from api.app import create_app
from api.state import build_state, jwt_key_path
from settings import Settings

from tests.foundation.conftest import assert_problem


async def test_outside_development_the_service_token_is_no_credential(tp):
    production = tp.settings.model_copy(update={"app_env": "production",
                                                "jwt_private_key_path": jwt_key_path(tp.settings)})
    state = build_state(production)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(production, state)),
                                     base_url="http://testserver") as http:
            response = await http.get("/v1/returns", headers={"Authorization": f"Bearer {production.service_token}"})
        assert_problem(response, 401)
    finally:
        await state.engine.dispose()
    # The same token in development is the system identity (tests/tax_return use it for System transitions).
    response = await tp.http.get("/v1/returns", headers={"Authorization": f"Bearer {tp.settings.service_token}"})
    assert response.status_code != 401


def test_a_short_service_token_is_refused_at_start_up():
    with pytest.raises(ValidationError):
        Settings(service_token="short-and-guessable")
