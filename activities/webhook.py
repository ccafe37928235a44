"""Activities of outbound webhooks: a delivery's first attempt, its later attempts (Svix's schedule as one
activity's Temporal retries), giving a delivery up, and the fan-out.

Isolation (a slow or dead endpoint never delays another's deliveries):
- deliveries run on their own task queue (`webhooks`), so no receiver can take a slot of the queues that run
  returns, documents or invoices;
- one attempt is one activity, bounded by the 15 s deadline of its request;
- an endpoint holds at most `max_in_flight` of a worker's activity slots: an attempt that finds its endpoint at
  the cap does nothing and fails as `EndpointBusy`, which Temporal retries (no workflow task, no place in the
  delivery's schedule) after the wait the endpoint's queue predicts: the deliveries waiting for it times its
  recent latency over the cap, jittered, between 1 s and 5 min. A slow endpoint's backlog of thousands then costs
  a few retries a second, not one per delivery per second, and the other endpoints' attempts take the free slots.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from domain.crypto import FieldCipher
from domain.outbound_webhook import delivery as deliveries
from domain.outbound_webhook.fan_out import fan_out
from integrations.mail import Mailer
from integrations.webhook_sender import SendResult, WebhookSender
from orchestration import mail, outbox
from orchestration.webhook import (SCHEDULE_S, AttemptInput, AttemptOutcome, FanOutInput, GiveUpInput,
                                   RetriesInput, deliver, wait_before)

ENDPOINT_BUSY = "EndpointBusy"
NOT_YET_DUE = "NotYetDue"
ATTEMPT_FAILED = "AttemptFailed"
SEND_CHUNK = 50  # workflow starts in flight at once after a fan-out's commit
HEARTBEAT_EVERY_S = 5.0
BUSY_WAIT_MIN_S, BUSY_WAIT_MAX_S = 1.0, 300.0
WAITING_FORGOTTEN_AFTER_S = 600.0  # a delivery not seen waiting this long no longer counts in the queue


class WebhookActivities:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], cipher: FieldCipher, sender: WebhookSender,
                 mailer: Mailer, api_base_url: str, max_in_flight: int):
        self.sessionmaker, self.cipher, self.sender, self.mailer = sessionmaker, cipher, sender, mailer
        self.api_base_url, self.max_in_flight = api_base_url, max_in_flight
        self._in_flight: dict[uuid.UUID, int] = defaultdict(int)
        # Per endpoint: the deliveries told to wait (when last told), and the recent latency of its attempts (s).
        self._waiting: dict[uuid.UUID, dict[uuid.UUID, float]] = defaultdict(dict)
        self._latency_s: dict[uuid.UUID, float] = {}

    def _busy(self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID) -> ApplicationError:
        now = time.monotonic()
        waiting = self._waiting[endpoint_id]
        waiting[delivery_id] = now
        if len(waiting) % 100 == 0:  # now and then, forget deliveries that went away (stopped, delivered elsewhere)
            for stale in [d for d, seen in waiting.items() if now - seen > WAITING_FORGOTTEN_AFTER_S]:
                del waiting[stale]
        expected = len(waiting) * self._latency_s.get(endpoint_id, 1.0) / self.max_in_flight
        delay = min(BUSY_WAIT_MAX_S, max(BUSY_WAIT_MIN_S, expected * random.uniform(0.5, 1.5)))
        # Benign: the SDK logs it at debug level, not as a failure with its traceback (it is flow control).
        return ApplicationError(f"endpoint {endpoint_id} has {self.max_in_flight} attempts in flight",
                                type=ENDPOINT_BUSY, next_retry_delay=timedelta(seconds=delay),
                                category=ApplicationErrorCategory.BENIGN)

    def _took(self, endpoint_id: uuid.UUID, delivery_id: uuid.UUID, latency_ms: int) -> None:
        self._waiting[endpoint_id].pop(delivery_id, None)
        if not self._waiting[endpoint_id]:
            del self._waiting[endpoint_id]
        previous = self._latency_s.get(endpoint_id, latency_ms / 1000)
        self._latency_s[endpoint_id] = 0.8 * previous + 0.2 * latency_ms / 1000

    def _outbox(self) -> outbox.Outbox:
        async def temporal():
            return activity.client()
        return outbox.Outbox(temporal, self.sessionmaker, self.mailer, self.cipher)

    @activity.defn(name="webhook.attempt")
    async def attempt(self, data: AttemptInput) -> AttemptOutcome:
        async with self.sessionmaker() as session:
            loaded = await deliveries.load(session, data.delivery_id)
            if loaded is None:
                return AttemptOutcome(result="stop")
            sent = await self._send(session, loaded)
        if sent is None:
            return AttemptOutcome(result="stop")
        recorded = await self._record(data.delivery_id, data.number, data.at, sent, last=False)
        return AttemptOutcome(result=recorded.result, retry_after_s=sent.retry_after_s)

    @activity.defn(name="webhook.retries")
    async def retries(self, data: RetriesInput) -> AttemptOutcome:
        """The schedule's attempts after the first: each run of this activity is the next attempt, and a failed
        one fails the activity with the schedule's next wait (or a longer Retry-After) as its next_retry_delay,
        so Temporal's retry is the schedule's timer. The attempt's number and the time it is due come from the
        delivery's row, not from Temporal's attempt count, which also counts busy and infrastructure retries.
        The clock is the time Temporal started this run: the server's, so time-skipping tests hold (the test
        server's `current_attempt_scheduled_time` is when a retry was scheduled, not when it was due)."""
        now = activity.info().started_time
        async with self.sessionmaker() as session:
            loaded = await deliveries.load(session, data.delivery_id)
            if loaded is None:
                return AttemptOutcome(result="stop")
            delivery = loaded.delivery
            number = delivery.attempt_count + 1
            if delivery.status != "pending":  # settled by a run whose answer was lost (a worker killed after it)
                return AttemptOutcome(result="delivered" if delivery.status == "succeeded" else
                                      "failed" if number > len(SCHEDULE_S) else "stop")
            asked = data.retry_after_s if number == 2 else None  # later Retry-Afters came as next_retry_delay
            due = (delivery.last_attempt_at or now) + wait_before(number, asked)
            if now < due:  # the first run, at once after the first attempt; or an early infrastructure retry
                raise ApplicationError(f"attempt {number} is due at {due.isoformat()}", type=NOT_YET_DUE,
                                       next_retry_delay=due - now, category=ApplicationErrorCategory.BENIGN)
            sent = await self._send(session, loaded)
        if sent is None:
            return AttemptOutcome(result="stop")
        last = number == len(SCHEDULE_S)
        recorded = await self._record(data.delivery_id, number, now, sent, last=last)
        if recorded.result != "retry":
            return AttemptOutcome(result=recorded.result)
        if last:
            return AttemptOutcome(result="failed")
        # Benign: a dead endpoint's failures are the delivery log's to show, not a traceback per attempt in the
        # worker's log.
        raise ApplicationError(f"attempt {number} of {len(SCHEDULE_S)} failed: "
                               f"{sent.status_code or sent.error}", type=ATTEMPT_FAILED,
                               next_retry_delay=wait_before(number + 1, sent.retry_after_s),
                               category=ApplicationErrorCategory.BENIGN)

    async def _send(self, session: AsyncSession, loaded: deliveries.Loaded) -> SendResult | None:
        """The request, or None when the endpoint is disabled meanwhile. Raises EndpointBusy when the endpoint has
        its cap of attempts in flight: checked and taken before anything is written (a full payload's disclosure
        log row), so a busy attempt leaves no trace but Temporal's retry."""
        endpoint_id, delivery_id = loaded.endpoint.id, loaded.delivery.id
        if self._in_flight[endpoint_id] >= self.max_in_flight:
            raise self._busy(endpoint_id, delivery_id)
        self._in_flight[endpoint_id] += 1
        try:
            plan = await deliveries.prepare(session, self.cipher, loaded, self.api_base_url)
            await session.commit()  # its connection goes back to the pool: none is held during the send
            if plan.url is None:
                return None
            sent = await self.sender.post(plan.url, plan.body, plan.headers)
            self._took(endpoint_id, delivery_id, sent.latency_ms)
            return sent
        finally:
            self._in_flight[endpoint_id] -= 1
            if not self._in_flight[endpoint_id]:
                del self._in_flight[endpoint_id]

    async def _record(self, delivery_id: uuid.UUID, number: int, at: datetime, sent: SendResult,
                      last: bool) -> deliveries.Recorded:
        """The attempt's row and what follows from it; `last`: a failure spends the schedule (the delivery is
        failed in the same transaction)."""
        async with self.sessionmaker() as session:
            recorded = await deliveries.record(session, delivery_id, number, at, sent.status_code, sent.latency_ms,
                                               sent.error)
            if last and recorded.result == "retry":
                await deliveries.give_up(session, delivery_id)
            box = self._outbox()
            pending = [await box.add(session, message) for message in _disabled_mails(recorded)]
            await session.commit()
        await box.send(*pending)
        return recorded

    @activity.defn(name="webhook.give_up")
    async def give_up(self, data: GiveUpInput) -> None:
        async with self.sessionmaker.begin() as session:
            await deliveries.give_up(session, data.delivery_id)

    @activity.defn(name="webhook.fan_out")
    async def fan_out(self, data: FanOutInput) -> int:
        """Poll for events not fanned out, for `run_seconds`. Heartbeats from a ticker of its own, so a round that
        takes long (thousands of workflow starts on a busy server) is not mistaken for a dead worker, while a dead
        worker's run is taken over within the heartbeat timeout. Returns how many events it fanned out."""
        loop = asyncio.get_running_loop()
        until = loop.time() + data.run_seconds
        total = 0

        async def tick() -> None:
            while True:
                activity.heartbeat(total)
                await asyncio.sleep(HEARTBEAT_EVERY_S)

        ticker = asyncio.create_task(tick())
        sender = self._outbox()
        try:
            while loop.time() < until:
                async with self.sessionmaker() as session:
                    events, written = await fan_out(session, data.batch)
                    pending = await sender.add_all(session, [deliver(delivery_id) for delivery_id in written])
                    await session.commit()
                total += events
                # Sent after the commit, SEND_CHUNK concurrent senders; what fails stays in the outbox for the relay.
                await asyncio.gather(*(sender.send(*pending[i::SEND_CHUNK]) for i in range(SEND_CHUNK)))
                if events < data.batch:
                    await asyncio.sleep(data.poll_interval_s)
        finally:
            ticker.cancel()
        return total


def _disabled_mails(recorded: deliveries.Recorded) -> list:
    if recorded.disabled is None:
        return []
    why = {"gone": "it answered 410 Gone",
           "failing": f"every delivery attempt has failed for {deliveries.FAILING_DISABLE_AFTER.days} days"}
    text = (f"The webhook endpoint {recorded.endpoint_url} was disabled because {why[recorded.disabled]}.\n\n"
            "Events are no longer sent to it. Once the receiver works again, enable it (PATCH "
            "/v1/admin/webhooks/{id} with enabled: true) and redeliver what it missed from its delivery log.\n")
    return [mail.mail(to, "A webhook endpoint was disabled", text, about=f"webhook_endpoint:{recorded.endpoint_id}")
            for to in recorded.admin_emails]
