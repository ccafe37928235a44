"""Registering activities: every `@activity.defn` method of an activity class's instance, found rather than
listed, and the one place where a provider's rejection ends an activity for good.

A provider raises `ProviderUnavailable` (left alone: Temporal retries the activity with backoff) or
`ProviderRejected` (integrations/providers.py). A rejection would be refused again on every retry, so the
activity reports it as a non-retryable `ApplicationError` whose type names the provider's kind
(`PaymentProviderRejected` …), which the workflow and the API read.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

from temporalio.exceptions import ApplicationError

from integrations.providers import ProviderRejected

DEFINITION = "__temporal_activity_definition"


def final_on_rejection(method: Callable) -> Callable:
    """The bound activity method, with a provider's rejection turned into a non-retryable ApplicationError.
    Temporal reads the activity's name and types from the definition carried over here."""
    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"activity {method.__name__} must be async (every activity here is)")
    @functools.wraps(method)
    async def run(*args, **kwargs):
        try:
            return await method(*args, **kwargs)
        except ProviderRejected as rejected:
            raise ApplicationError(rejected.message, type=rejected.error_type, non_retryable=True) from None

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
