"""The one place where each client library's exceptions become `ProviderUnavailable` or `ProviderRejected`.

Every provider client (integrations/*.py) wraps its calls in `provider_errors(kind)`, or hands an HTTP
answer to `raise_for_status(kind, response)`; nothing else decides whether a provider's failure is worth
retrying. A new client library adds its exceptions to `classify` below.
"""

from __future__ import annotations

import contextlib
import smtplib
from collections.abc import Iterator

import botocore.exceptions
import httpx
import stripe

from integrations.providers import ProviderError, ProviderRejected, ProviderUnavailable

# HTTP answers that say "not now" rather than "no": a timeout on the provider's side and its rate limit.
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def is_retryable_status(status: int) -> bool:
    return status >= 500 or status in RETRYABLE_STATUSES


def classify(kind: str, exc: BaseException) -> ProviderError | None:
    """The provider error this library exception means, or None for one that is no provider failure (a bug
    of ours, which must surface as itself)."""
    message = str(exc) or type(exc).__name__
    # Stripe: the SDK's own split (connection, rate limit, its API failing) is the retryable side.
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)):
        return ProviderUnavailable(kind, message)
    if isinstance(exc, stripe.StripeError):
        return ProviderRejected(kind, getattr(exc, "user_message", None) or message)
    # httpx (SurePrep, SmartVault): no answer at all.
    if isinstance(exc, httpx.TransportError):
        return ProviderUnavailable(kind, message)
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        error = ProviderUnavailable if is_retryable_status(status) else ProviderRejected
        return error(kind, f"HTTP {status} from {exc.request.url.path}")
    # boto3 (S3, Bedrock): a ClientError carries the HTTP status of the service's answer.
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        code = exc.response.get("Error", {}).get("Code", "")
        retryable = is_retryable_status(status) or code in ("ThrottlingException", "ServiceUnavailableException",
                                                             "ModelNotReadyException", "SlowDown")
        return (ProviderUnavailable if retryable else ProviderRejected)(kind, message)
    if isinstance(exc, (botocore.exceptions.BotoCoreError)):  # endpoint unreachable, read timeout …
        return ProviderUnavailable(kind, message)
    # SMTP: a refused recipient or sender is a "no"; everything else (a dropped connection, a 4xx) is "not now".
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused)):
        return ProviderRejected(kind, message)
    if isinstance(exc, (smtplib.SMTPException, OSError)):
        return ProviderUnavailable(kind, message)
    return None


@contextlib.contextmanager
def provider_errors(kind: str) -> Iterator[None]:
    """Around a provider call: its library's exceptions leave as ProviderUnavailable or ProviderRejected."""
    try:
        yield
    except ProviderError:
        raise
    except Exception as exc:
        mapped = classify(kind, exc)
        if mapped is None:
            raise
        raise mapped from exc


def raise_for_status(kind: str, response: httpx.Response, what: str) -> None:
    """A provider's HTTP answer that is not a success, as a provider error naming what was attempted."""
    if response.is_success:
        return
    error = ProviderUnavailable if is_retryable_status(response.status_code) else ProviderRejected
    raise error(kind, f"{what} failed: HTTP {response.status_code}")
