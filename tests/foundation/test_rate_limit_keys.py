"""Rate-limit keys (issue 13, medium 5): a signed-in caller is counted by its verified subject, however it spells
the header; an address comes from X-Forwarded-For only when a trusted proxy says so."""

from __future__ import annotations

import contextlib

import httpx

from api.app import create_app
from api.state import build_state


@contextlib.asynccontextmanager
async def _api(tp, peer: str, **settings):
    # Day-long windows: a fixed window that rolled over between two hits would start the count again.
    changed = tp.settings.model_copy(update={"rate_limit_standard_window_s": 86_400,
                                             "rate_limit_auth_window_s": 86_400, **settings})
    state = build_state(changed)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(changed, state), client=(peer, 4000)),
                                     base_url="http://testserver") as http:
            yield http
    finally:
        await state.engine.dispose()


async def test_respelling_bearer_opens_no_new_bucket(tp, admin):
    token = admin["Authorization"].split()[1]
    spellings = [f"Bearer {token}", f"bearer {token}", f"BEARER {token}", f"Bearer  {token}"]
    async with _api(tp, "198.51.100.7", rate_limit_standard=3) as http:
        statuses = [(await http.get("/v1/clients", headers={"Authorization": s})).status_code for s in spellings]
    assert statuses == [200, 200, 200, 429]


async def test_forwarded_addresses_count_only_behind_a_trusted_proxy(tp):
    body = {"email": "nobody@firm.example.com", "password": "not the password"}

    async def sign_ins(http, forwarded_for: list[str]) -> list[int]:
        return [(await http.post("/v1/auth/login", json=body, headers={"X-Forwarded-For": f})).status_code
                for f in forwarded_for]

    # Behind our proxy: each client its own bucket, whatever it puts left of the proxy's entry.
    async with _api(tp, "10.0.0.2", rate_limit_auth=2, trusted_proxies=["10.0.0.0/24"]) as http:
        assert await sign_ins(http, ["203.0.113.1", "203.0.113.2", "203.0.113.1", "203.0.113.2"]) == [401] * 4
        assert await sign_ins(http, ["1.2.3.4, 203.0.113.1"]) == [429]  # the spoofed hop is ignored
    # From anyone else, X-Forwarded-For is the caller's own word: one bucket, the socket's address.
    async with _api(tp, "198.51.100.9", rate_limit_auth=2) as http:
        assert await sign_ins(http, ["203.0.113.3", "203.0.113.4", "203.0.113.5"]) == [401, 401, 429]


async def test_api_processes_share_one_count(tp, admin):
    """Two API processes (two apps, each with its own engine and memory) on one database: the limit holds for
    the caller across both, not N times over."""
    async with _api(tp, "198.51.100.20", rate_limit_standard=3) as first, \
            _api(tp, "198.51.100.20", rate_limit_standard=3) as second:
        statuses = [(await http.get("/v1/clients", headers=admin)).status_code
                    for http in (first, second, first, second)]
    assert statuses == [200, 200, 200, 429]
