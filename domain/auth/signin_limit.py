"""The per-account sign-in limit (issue 13): password attempts on one account, from every address together.

The lockout (domain/auth/service.py: five wrong passwords in a row lock the account for 15 minutes) counts only
wrong passwords on accounts that exist, and each attempt still costs an argon2 run; the per-address limit (the
auth rate limit) does not see an attack spread over many addresses. This limit counts every attempt on an email
address, existing account or not, before the password is looked at: past it, the answer is 429 with Retry-After,
and no hash is computed.

It is a sliding window on the shared rate-limit counters (domain/rate_limit.SharedCounters.admit), and a refused
attempt is not counted. That is the trade-off against an attacker who wants to lock a real user out: however hard
they knock, the account admits `limit` attempts per window and the refusal ends by the time Retry-After says,
at most two windows after the knocking stops (10 minutes with the defaults); it never needs an administrator and
never grows longer with more attempts. While an attacker keeps knocking faster than the limit, the real user
competes with them for the admitted attempts (and a wrong password among them still counts towards the lockout).
Portal clients sign in by mailed link, which this limit does not touch.

The bucket is a digest of the lower-cased address, so the counters table names no address.
"""

from __future__ import annotations

import hashlib
import logging
import time

from sqlalchemy.exc import InterfaceError, OperationalError

from domain.errors import RateLimited
from domain.rate_limit import SharedCounters

log = logging.getLogger(__name__)


def bucket(email: str) -> str:
    return "signin-account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


class SigninLimit:
    def __init__(self, counters: SharedCounters, limit: int, window_s: int):
        self.counters, self.limit, self.window_s = counters, limit, window_s

    async def check(self, email: str) -> None:
        """Count this attempt on the account, or raise RateLimited (429, Retry-After) past the limit. If Postgres
        cannot count, the attempt goes on: the lockout and the per-address limit still stand."""
        try:
            retry_after = await self.counters.admit(bucket(email), self.limit, self.window_s, time.time())
        except (OperationalError, InterfaceError):
            log.warning("sign-in counters unreachable; the per-account limit is not applied meanwhile")
            return
        if retry_after is not None:
            raise RateLimited(f"Too many sign-in attempts on this account; retry after {retry_after} s",
                              retry_after)
