"""Payments sandbox: the subset of Stripe's HTTP API the official SDK calls for Checkout, a page where a person
(or a test) pays, and webhooks signed exactly as Stripe signs them.

API (form-encoded like Stripe, `Authorization: Bearer sk_…`, `Idempotency-Key` with Stripe's replay rules):

    POST /v1/checkout/sessions                 create a session (mode=payment, line_items[n][price_data]…)
    GET  /v1/checkout/sessions/{id}            retrieve
    POST /v1/checkout/sessions/{id}/expire     expire an open session
    GET  /v1/payment_intents/{id}              retrieve the PaymentIntent of a paid (or declined) session

People and tests:

    GET  /pay/{session_id}                     the hosted payment page
    POST /pay/{session_id}                     pay (form field card_number; 4000 0000 0000 0002 is declined,
                                               like Stripe's test card); Accept: application/json for tests
    GET  /_sandbox/events                      every event and its deliveries
    POST /_sandbox/events/{event_id}/resend    deliver an event again (Stripe delivers at least once)
    POST /_sandbox/outage?requests=N           answer the next N API calls 503, as a load balancer in trouble

Webhooks carry `Stripe-Signature: t=<unix>,v1=<HMAC-SHA256(secret, "<t>.<body>")>`, one `v1` per configured
secret (as Stripe does while an endpoint secret is being rolled), and are retried with backoff on failure.
State is in memory: a restart forgets sessions (Stripe test mode keeps them; a sandbox need not).

Run it: `python -m sandboxes.payments --port 12111 --webhook-url http://127.0.0.1:8000/v1/webhooks/stripe
--webhook-secret whsec_…`. Tests start it in their own event loop (`serve`) and deliver webhooks to the app
in process through `deliver`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import html
import json
import logging
import re
import secrets as token_source
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

log = logging.getLogger("sandboxes.payments")

HOST = "127.0.0.1"
API_VERSION = "2026-10-28.endive"  # what the pinned SDK sends; echoed in events like Stripe does
DECLINED_CARD = "4000000000000002"
SESSION_LIFETIME_S = 24 * 3600
RETRY_DELAYS_S = (1, 5, 25, 60)  # Stripe retries for days; a sandbox gives up sooner

# (payload bytes, headers) → HTTP status of the receiver
Deliver = Callable[[bytes, dict[str, str]], Awaitable[int]]


def signature_header(payload: str, secrets: list[str], timestamp: int) -> str:
    """Stripe's scheme: `t=<timestamp>` and one `v1=` HMAC-SHA256 over "<timestamp>.<payload>" per secret."""
    parts = [f"t={timestamp}"]
    for secret in secrets:
        digest = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
        parts.append(f"v1={digest}")
    return ",".join(parts)


def _new_id(prefix: str) -> str:
    return f"{prefix}_test_{token_source.token_urlsafe(18).replace('-', 'a').replace('_', 'b')}"


def parse_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's form encoding back into nested data: `a[b][0][c]=v` → {"a": {"b": [{"c": "v"}]}}."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node):
    """Dicts keyed 0..n-1 become lists."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.kind, self.message, self.param, self.code = status, kind, message, param, code

    def body(self) -> dict:
        error = {"type": self.kind, "message": self.message}
        if self.param:
            error["param"] = self.param
        if self.code:
            error["code"] = self.code
        return {"error": error}


@dataclass
class PaymentsSandbox:
    webhook_secrets: list[str]
    public_url: str = ""  # where people reach the pay page; set by `serve` when empty
    api_key: str | None = None  # when set, only this key is accepted (else any sk_test_…)
    deliver: Deliver | None = None
    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    sessions: dict[str, dict] = field(default_factory=dict)
    payment_intents: dict[str, dict] = field(default_factory=dict)
    events: dict[str, dict] = field(default_factory=dict)
    deliveries: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)  # every API call: method, path, idempotency key, replayed
    outage_requests: int = 0
    _idempotency: dict[str, tuple[str, int, dict]] = field(default_factory=dict)
    _tasks: set[asyncio.Task] = field(default_factory=set)

    # ---- the API -----------------------------------------------------------------------------------------

    def create_session(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise StripeError(400, "invalid_request_error", "Only mode=payment is supported here", "mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeError(400, "invalid_request_error", "line_items is required", "line_items")
        total, currency = 0, None
        for i, item in enumerate(items):
            price = item.get("price_data") or {}
            try:
                unit, quantity = int(price.get("unit_amount", "")), int(item.get("quantity", ""))
            except ValueError:
                raise StripeError(400, "invalid_request_error", "Invalid integer",
                                  f"line_items[{i}][price_data][unit_amount]") from None
            if unit < 0 or quantity < 1:
                raise StripeError(400, "invalid_request_error", "Invalid amount or quantity", f"line_items[{i}]")
            if not (price.get("product_data") or {}).get("name"):
                raise StripeError(400, "invalid_request_error", "Missing required param",
                                  f"line_items[{i}][price_data][product_data][name]")
            currency = currency or price.get("currency")
            if price.get("currency") != currency:
                raise StripeError(400, "invalid_request_error", "All line items must share one currency",
                                  f"line_items[{i}][price_data][currency]")
            total += unit * quantity
        if not params.get("success_url"):
            raise StripeError(400, "invalid_request_error", "Missing required param: success_url", "success_url")
        now = int(time.time())
        session_id = _new_id("cs")
        session = {
            "id": session_id, "object": "checkout.session", "livemode": False, "mode": "payment",
            "status": "open", "payment_status": "unpaid", "amount_subtotal": total, "amount_total": total,
            "currency": currency, "customer_email": params.get("customer_email"),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {}, "payment_intent": None,
            "success_url": params["success_url"], "cancel_url": params.get("cancel_url"),
            "url": f"{self.public_url}/pay/{session_id}", "created": now, "expires_at": now + SESSION_LIFETIME_S,
            "_line_items": items, "_payment_intent_data": params.get("payment_intent_data") or {},
        }
        self.sessions[session_id] = session
        return self._public(session)

    def get_session(self, session_id: str) -> dict:
        session = self.sessions.get(session_id)
        if session is None:
            raise StripeError(404, "invalid_request_error", f"No such checkout.session: '{session_id}'", "session",
                              "resource_missing")
        return session

    def expire_session(self, session_id: str) -> dict:
        session = self.get_session(session_id)
        if session["status"] != "open":
            raise StripeError(400, "invalid_request_error",
                              "Only Checkout Sessions with a status in [\"open\"] can be expired", None,
                              "checkout_session_not_open")
        session["status"] = "expired"
        session["url"] = None
        self._emit("checkout.session.expired", self._public(session))
        return self._public(session)

    def get_payment_intent(self, intent_id: str) -> dict:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise StripeError(404, "invalid_request_error", f"No such payment_intent: '{intent_id}'", "intent",
                              "resource_missing")
        return intent

    @staticmethod
    def _public(session: dict) -> dict:
        return {k: v for k, v in session.items() if not k.startswith("_")}

    # ---- paying ------------------------------------------------------------------------------------------

    def pay(self, session_id: str, card_number: str) -> dict:
        """Pay an open session with a test card. Returns {"outcome", "session", "payment_intent"}."""
        session = self.get_session(session_id)
        if session["status"] != "open":
            raise StripeError(400, "invalid_request_error", f"This Checkout Session is {session['status']}")
        intent = self._intent_for(session)
        digits = re.sub(r"\D", "", card_number)
        if digits == DECLINED_CARD:
            intent.update(status="requires_payment_method", last_payment_error={
                "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                "message": "Your card was declined."})
            self._emit("payment_intent.payment_failed", intent)
            return {"outcome": "declined", "session": self._public(session), "payment_intent": intent}
        intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None,
                      latest_charge=_new_id("ch"))
        session.update(status="complete", payment_status="paid", payment_intent=intent["id"], url=None)
        # Stripe sends these two in no guaranteed order; the sandbox sends the PaymentIntent's first.
        self._emit("payment_intent.succeeded", intent)
        self._emit("checkout.session.completed", self._public(session))
        return {"outcome": "paid", "session": self._public(session), "payment_intent": intent}

    def _intent_for(self, session: dict) -> dict:
        """One PaymentIntent per session, created at the first attempt and reused by later ones."""
        intent_id = session.get("_intent_id")
        if intent_id:
            return self.payment_intents[intent_id]
        data = session["_payment_intent_data"]
        intent = {
            "id": _new_id("pi"), "object": "payment_intent", "livemode": False, "amount": session["amount_total"],
            "amount_received": 0, "currency": session["currency"], "status": "requires_payment_method",
            "metadata": data.get("metadata") or {}, "description": data.get("description"),
            "payment_method_types": ["card"], "created": int(time.time()), "latest_charge": None,
            "last_payment_error": None,
        }
        self.payment_intents[intent["id"]] = intent
        session["_intent_id"] = intent["id"]
        return intent

    # ---- events and their delivery -----------------------------------------------------------------------

    def _emit(self, kind: str, obj: dict) -> dict:
        event = {
            "id": _new_id("evt"), "object": "event", "api_version": API_VERSION, "created": int(time.time()),
            "type": kind, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "data": {"object": json.loads(json.dumps(obj))},  # a snapshot, as Stripe sends
        }
        self.events[event["id"]] = event
        self._schedule(event)
        return event

    def signed(self, event: dict, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        payload = json.dumps(event, indent=2)  # Stripe pretty-prints its webhook bodies
        header = signature_header(payload, self.webhook_secrets, int(time.time()) if timestamp is None else timestamp)
        return payload.encode(), {"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header,
                                  "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}

    def resend(self, event_id: str) -> None:
        event = self.events.get(event_id)
        if event is None:
            raise StripeError(404, "invalid_request_error", f"No such event: '{event_id}'")
        self._schedule(event)

    def _schedule(self, event: dict) -> None:
        if self.deliver is None:
            return
        task = asyncio.get_running_loop().create_task(self._deliver_with_retries(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_with_retries(self, event: dict) -> None:
        for attempt, delay in enumerate((0, *self.retry_delays_s), start=1):
            await asyncio.sleep(delay)
            payload, headers = self.signed(event)  # re-signed per attempt, with a fresh timestamp, like Stripe
            try:
                status = await self.deliver(payload, headers)
            except Exception as exc:  # the receiver is down: retry later
                status, error = None, repr(exc)
            else:
                error = None
            self.deliveries.append({"event_id": event["id"], "type": event["type"], "attempt": attempt,
                                    "status": status, "error": error, "at": int(time.time())})
            if status is not None and 200 <= status < 300:
                return
            log.warning("webhook %s (%s) attempt %d failed: %s", event["id"], event["type"], attempt, status or error)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Wait until every delivery scheduled so far has finished (tests)."""
        deadline = time.monotonic() + timeout_s
        while self._tasks and time.monotonic() < deadline:
            await asyncio.wait(set(self._tasks), timeout=max(0.0, deadline - time.monotonic()))

    # ---- idempotency (Stripe's rules) --------------------------------------------------------------------

    def idempotent(self, key: str | None, fingerprint: str, run: Callable[[], dict]) -> tuple[int, dict, bool]:
        """Same key and same parameters: the first response again. Same key, other parameters: 400.
        Requests that fail validation are not saved, so they can be corrected and retried with the key."""
        if key:
            saved = self._idempotency.get(key)
            if saved is not None:
                if saved[0] != fingerprint:
                    raise StripeError(400, "idempotency_error",
                                      "Keys for idempotent requests can only be used with the same parameters they "
                                      f"were first used with. Try using a key other than '{key}' if you meant to "
                                      "execute a different request.")
                return saved[1], saved[2], True
        body = run()
        if key:
            self._idempotency[key] = (fingerprint, 200, body)
        return 200, body, False


def _stripe_error(exc: StripeError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def create_app(sandbox: PaymentsSandbox) -> FastAPI:
    app = FastAPI(title="Payments sandbox (Stripe API subset)", docs_url=None, redoc_url=None)

    def authorize(request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key.startswith("sk_") or (sandbox.api_key and key != sandbox.api_key):
            raise StripeError(401, "invalid_request_error", "Invalid API Key provided")

    async def api_call(request: Request, run: Callable[[dict], dict]) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        entry = {"method": request.method, "path": request.url.path, "idempotency_key": key, "replayed": False}
        sandbox.requests.append(entry)
        if sandbox.outage_requests > 0:
            sandbox.outage_requests -= 1
            entry["outage"] = True
            return JSONResponse({"error": {"type": "api_error", "message": "Service unavailable (sandbox outage)"}},
                                status_code=503)
        try:
            authorize(request)
            raw = (await request.body()).decode()
            params = parse_form(httpx.QueryParams(raw).multi_items()) if raw else {}
            fingerprint = hashlib.sha256(f"{request.method} {request.url.path} {raw}".encode()).hexdigest()
            if request.method == "GET":
                return JSONResponse(run(params))
            status, body, replayed = sandbox.idempotent(key, fingerprint, lambda: run(params))
        except StripeError as exc:
            return _stripe_error(exc)
        entry["replayed"] = replayed
        headers = {"Idempotency-Key": key} if key else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return JSONResponse(body, status_code=status, headers=headers)

    @app.post("/v1/checkout/sessions")
    async def create_session(request: Request):
        return await api_call(request, sandbox.create_session)

    @app.get("/v1/checkout/sessions/{session_id}")
    async def get_session(session_id: str, request: Request):
        return await api_call(request, lambda _: sandbox._public(sandbox.get_session(session_id)))

    @app.post("/v1/checkout/sessions/{session_id}/expire")
    async def expire_session(session_id: str, request: Request):
        return await api_call(request, lambda _: sandbox.expire_session(session_id))

    @app.get("/v1/payment_intents/{intent_id}")
    async def get_payment_intent(intent_id: str, request: Request):
        return await api_call(request, lambda _: sandbox.get_payment_intent(intent_id))

    @app.get("/pay/{session_id}", response_class=HTMLResponse)
    async def pay_page(session_id: str):
        session = sandbox.sessions.get(session_id)
        if session is None:
            return HTMLResponse(_page("Unknown payment link", "<p>This payment link does not exist.</p>"), 404)
        amount = f"{session['amount_total'] / 100:,.2f} {session['currency'].upper()}"
        label = html.escape(session["metadata"].get("invoice_number") or session["id"])
        if session["status"] != "open":
            return HTMLResponse(_page(f"Invoice {label}", f"<p>This payment link is {session['status']}.</p>"))
        lines = "".join(
            f"<li>{html.escape(i['price_data']['product_data']['name'])} × {i['quantity']}</li>"
            for i in session["_line_items"])
        body = (f"<ul>{lines}</ul><p><strong>Total {amount}</strong></p>"
                f"<form method='post'><label>Card number <input name='card_number' value='4242 4242 4242 4242' "
                f"size='22'></label> <button type='submit'>Pay {amount}</button></form>"
                f"<p><small>Sandbox: card 4000 0000 0000 0002 is declined.</small></p>")
        return HTMLResponse(_page(f"Pay invoice {label}", body))

    @app.post("/pay/{session_id}")
    async def pay(session_id: str, request: Request):
        form = await request.form()
        wants_json = "application/json" in request.headers.get("accept", "")
        try:
            result = sandbox.pay(session_id, str(form.get("card_number", "4242424242424242")))
        except StripeError as exc:
            if wants_json:
                return _stripe_error(exc)
            return HTMLResponse(_page("Payment not possible", f"<p>{html.escape(exc.message)}</p>"), exc.status)
        if wants_json:
            return JSONResponse(result)
        if result["outcome"] == "declined":
            return HTMLResponse(_page("Card declined", f"<p>Your card was declined. "
                                                       f"<a href='/pay/{session_id}'>Try again</a></p>"), 402)
        # Stripe redirects to success_url at once; the sandbox shows the outcome first, with the link, so a
        # developer sees what happened even where the portal page does not exist yet.
        success = html.escape(result["session"]["success_url"])
        return HTMLResponse(_page("Payment received", f"<p>Paid {result['payment_intent']['amount'] / 100:,.2f} "
                                                      f"{result['payment_intent']['currency'].upper()}. The webhook "
                                                      f"is on its way to the app.</p><p><a href='{success}'>"
                                                      f"Continue to {success}</a></p>"))

    @app.get("/_sandbox/events")
    async def list_events():
        return {"events": list(sandbox.events.values()), "deliveries": sandbox.deliveries}

    @app.post("/_sandbox/events/{event_id}/resend")
    async def resend(event_id: str):
        try:
            sandbox.resend(event_id)
        except StripeError as exc:
            return _stripe_error(exc)
        return {"resent": event_id}

    @app.post("/_sandbox/outage")
    async def outage(requests: int = 1):
        sandbox.outage_requests = requests
        return {"outage_requests": requests}

    return app


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:36em;margin:3em auto'><h1>{html.escape(title)}</h1>"
            f"{body}<p><small>Payments sandbox — not a real payment.</small></p></body></html>")


def http_deliver(url: str, timeout_s: float = 10.0) -> Deliver:
    """Deliver over HTTP, as Stripe does."""
    client = httpx.AsyncClient(timeout=timeout_s)

    async def deliver(payload: bytes, headers: dict[str, str]) -> int:
        response = await client.post(url, content=payload, headers=headers)
        return response.status_code

    return deliver


@dataclass
class RunningSandbox:
    sandbox: PaymentsSandbox
    server: uvicorn.Server
    task: asyncio.Task
    url: str

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task


async def serve(sandbox: PaymentsSandbox, port: int) -> RunningSandbox:
    """Run the sandbox in the current event loop (tests): returns once it accepts connections."""
    url = f"http://{HOST}:{port}"
    sandbox.public_url = sandbox.public_url or url
    server = uvicorn.Server(uvicorn.Config(create_app(sandbox), host=HOST, port=port, log_level="warning",
                                           lifespan="off"))
    task = asyncio.get_running_loop().create_task(server.serve())
    while not server.started:
        if task.done():
            await task  # raises the start-up error
            raise RuntimeError("payments sandbox did not start")
        await asyncio.sleep(0.01)
    return RunningSandbox(sandbox, server, task, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--webhook-url", required=True, help="where events are POSTed")
    parser.add_argument("--webhook-secret", action="append", required=True,
                        help="signing secret (repeat during a rotation: one v1 signature per secret)")
    parser.add_argument("--public-url", default=None, help="base URL of the pay page (default http://127.0.0.1:PORT)")
    parser.add_argument("--api-key", default=None, help="accept only this secret key (default: any sk_…)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sandbox = PaymentsSandbox(webhook_secrets=args.webhook_secret, api_key=args.api_key,
                              public_url=args.public_url or f"http://{HOST}:{args.port}",
                              deliver=http_deliver(args.webhook_url))
    print(f"payments sandbox: API {sandbox.public_url}/v1, pay page {sandbox.public_url}/pay/<session id>, "
          f"webhooks to {args.webhook_url}", flush=True)
    uvicorn.run(create_app(sandbox), host=HOST, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
