"""The HTTP side of an outbound webhook attempt: POST the signed body to the address that was checked.

- The host is resolved and every address checked at each attempt (webhook_target.py), and the connection goes to
  the checked address: the URL's host is replaced by it, `Host` names the host, and for https the TLS handshake
  sends and verifies the host's name (SNI, certificate) as usual. A name re-pointed at a private address between
  registration and delivery (DNS rebinding) is refused at the attempt, and nothing is sent.
- Redirects are not followed (a 3xx is a failed attempt: a redirect could lead anywhere).
- The whole attempt, body included, has one deadline (15 s), so a receiver trickling its answer cannot hold an
  attempt longer; at most `max_response_bytes` of the answer are read, and kept only as an excerpt in no log.
- A fresh connection per attempt: a connection pooled by address could carry one host's request over another
  host's TLS session on the same address.
"""

from __future__ import annotations

import asyncio
import email.utils
import ssl
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import httpx

from integrations import webhook_target

USER_AGENT = "TaxPractice-Webhooks/1.0"


@dataclass(frozen=True)
class SendResult:
    status_code: int | None  # None: no answer (refused target, timeout, connection error)
    latency_ms: int
    error: str | None
    retry_after_s: float | None = None


def retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (RFC 9110: delay-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class WebhookSender:
    def __init__(self, policy: webhook_target.TargetPolicy, timeout_s: float = 15.0, max_response_bytes: int = 4096,
                 ca_file: str | None = None):
        self.policy, self.timeout_s, self.max_response_bytes = policy, timeout_s, max_response_bytes
        # Built once (building one per attempt costs milliseconds): the system's CAs, plus `ca_file`'s where the
        # operator trusts a private CA (OUTBOUND_WEBHOOK_CA_FILE: a partner on a private link, the tests).
        self._ssl = ssl.create_default_context()
        if ca_file:
            self._ssl.load_verify_locations(cafile=ca_file)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> SendResult:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            target, addresses = await webhook_target.check(url, self.policy)
        except webhook_target.UnsafeTarget as exc:
            return SendResult(None, elapsed(), f"refused: {exc}")
        request_headers = {**headers, "Host": target.host_header, "User-Agent": USER_AGENT,
                           "Content-Type": "application/json"}
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        try:
            async with asyncio.timeout(self.timeout_s):
                async with httpx.AsyncClient(verify=self._ssl, follow_redirects=False, trust_env=False,
                                             timeout=self.timeout_s) as http:
                    request = http.build_request("POST", target.url_for(addresses[0]), content=body,
                                                 headers=request_headers, extensions=extensions)
                    response = await http.send(request, stream=True)
                    try:
                        read = 0
                        async for chunk in response.aiter_raw():
                            read += len(chunk)
                            if read >= self.max_response_bytes:
                                break
                    finally:
                        await response.aclose()
        except TimeoutError:
            return SendResult(None, elapsed(), f"timeout after {self.timeout_s:g} s")
        except httpx.HTTPError as exc:
            return SendResult(None, elapsed(), f"{type(exc).__name__}: {exc}"[:500])
        error = None
        if 300 <= response.status_code < 400:
            error = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
        elif not 200 <= response.status_code < 300:
            error = f"HTTP {response.status_code}"
        return SendResult(response.status_code, elapsed(), error, retry_after(response.headers.get("retry-after")))
