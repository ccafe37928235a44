"""Registering activities: every `@activity.defn` method of an activity class's instance, found rather than
listed, and the one place where a refusal ends an activity for good.

A provider raises `ProviderUnavailable` (left alone: Temporal retries the activity with backoff) or
`ProviderRejected` (integrations/providers.py); a domain service raises a `DomainError`. Either would be refused
again on every retry, so the activity reports it through the one codec at the Temporal boundary
(orchestration/domain_error.py): a non-retryable `ApplicationError` of type `DomainError` that the workflow and
the API turn back into the same problem — a provider's rejection as a 502 naming its kind (`payment_provider` …).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from domain.errors import DomainError
from integrations.providers import ProviderRejected
from orchestration.domain_error import as_failure

DEFINITION = "__temporal_activity_definition"


def provider_refusal(rejected: ProviderRejected) -> DomainError:
    title = " ".join(part.title() for part in rejected.kind.split("_"))
    return DomainError(rejected.message, [], 502, f"{rejected.kind}_provider", f"{title} Provider Error")


def final_on_rejection(method: Callable) -> Callable:
    """The bound activity method, with a refusal (a provider's, or a domain rule's) turned into the non-retryable
    failure that carries it. Temporal reads the activity's name and types from the definition carried over."""
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"activity {method.__name__} must be async (every activity here is)")
    @functools.wraps(method)
    async def run(*args, **kwargs):
        try:
            return await method(*args, **kwargs)
        except ProviderRejected as rejected:
            raise as_failure(provider_refusal(rejected)) from None
        except DomainError as refused:
            raise as_failure(refused) from None

    setattr(run, DEFINITION, getattr(method, DEFINITION))
    return run


def activity_methods(*instances: object) -> list[Callable]:
    """Every activity method of these instances (by name), ready for `Worker(activities=...)`."""
    found = []
    for instance in instances:
        for name, member in inspect.getmembers(type(instance), callable):
            if hasattr(member, DEFINITION):
                found.append(final_on_rejection(getattr(instance, name)))
    return found
