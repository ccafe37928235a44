"""Retry policies shared by workflows that call the outside world."""

from datetime import timedelta

from temporalio.common import RetryPolicy

# Stripe, mail or the database down: keep trying, backing off to one attempt every five minutes.
PATIENT = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                      maximum_interval=timedelta(minutes=5))
ACTIVITY_TIMEOUT = timedelta(seconds=60)
