"""The per-account sign-in limit (domain/auth/signin_limit.py): attempts on one account from every address
together, a sliding window on the shared counters; 429 problem+json with Retry-After past it; a refused attempt
is not counted, so an attacker who keeps knocking cannot stretch the refusal."""

from __future__ import annotations

import uuid

from domain.auth.signin_limit import bucket
from domain.rate_limit import SharedCounters, sliding_retry_after
from tests.foundation.conftest import assert_problem
from tests.foundation.test_rate_limit_keys import _api


async def test_attempts_on_one_account_from_many_addresses_are_limited_together(tp, firm):
    user, _ = await tp.staff(firm, "admin")
    wrong = {"email": user.email, "password": "not the password"}
    async with _api(tp, "10.0.0.2", trusted_proxies=["10.0.0.0/24"], rate_limit_signin_per_account=3,
                    rate_limit_signin_per_account_window_s=86_400) as http:
        statuses = [(await http.post("/v1/auth/login", json=wrong,
                                     headers={"X-Forwarded-For": f"203.0.113.{n}"})).status_code
                    for n in range(1, 4)]
        assert statuses == [401, 401, 401]  # three addresses, each far below the per-address limit
        refused = await http.post("/v1/auth/login", json={"email": user.email.upper(), "password": user.password},
                                  headers={"X-Forwarded-For": "203.0.113.9"})
        body = assert_problem(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 2 * 86_400
        assert user.email not in refused.text and "retry after" in body["detail"]
        # An address nobody has tried (existing account or not) is counted on its own.
        other = await http.post("/v1/auth/login", json={"email": f"x-{uuid.uuid4().hex[:8]}@firm.example.com",
                                                        "password": "whatever"})
        assert other.status_code == 401


async def test_a_refusal_ends_as_the_window_slides_however_hard_someone_knocks(tp):
    counters, key, limit, window = SharedCounters(tp.state.engine), bucket(f"{uuid.uuid4()}@x.example"), 3, 60
    start = 1_000_020.0  # 20 s into a window (window starts are multiples of 60)
    assert [await counters.admit(key, limit, window, start) for _ in range(3)] == [None, None, None]
    first_refusal = await counters.admit(key, limit, window, start)
    assert first_refusal is not None
    for knock in range(200):  # an attacker knocking on: not counted, so the wait does not grow
        assert await counters.admit(key, limit, window, start + knock * 0.1) <= first_refusal
    assert await counters.admit(key, limit, window, start + first_refusal - 1) is not None
    assert await counters.admit(key, limit, window, start + first_refusal) is None  # admitted when it said
    assert first_refusal <= 2 * window


def test_retry_after_follows_the_sliding_window():
    # The current window is full: wait for it to become the previous one and fade below the limit.
    assert sliding_retry_after(limit=10, window_s=60, elapsed=30, previous=0, current=10) == 31
    # The previous window weighs 20 * (1 - 30/60) = 10 now; one more second makes it 9.
    assert sliding_retry_after(limit=10, window_s=60, elapsed=30, previous=20, current=0) == 1
    assert sliding_retry_after(limit=10, window_s=60, elapsed=0, previous=20, current=5) == 46
