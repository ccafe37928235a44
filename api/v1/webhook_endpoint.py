"""Outbound webhook endpoints (admin; spec §13.3, issue 18): register, change, rotate the secret, read the delivery
log, redeliver, send a test event. docs/webhooks-outbound.md says how deliveries are signed, retried and kept
off private addresses."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response

from api import envelope
from api.deps import Ctx, State
from api.json_route import JSONRoute
from api.openapi import One, answers, list_of
from api.schemas.base import patch_changes
from api.schemas.webhook_endpoint import (WebhookDeliveryOut, WebhookEndpointCreate, WebhookEndpointOut,
                                          WebhookEndpointUpdate, WebhookEndpointWithSecret)
from domain import policy
from domain.errors import BusinessRuleViolation, FieldError
from domain.listing import parse_list_query
from domain.outbound_webhook import service
from domain.outbound_webhook.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from integrations import webhook_target
from orchestration import webhook as workflow

router = APIRouter(route_class=JSONRoute, prefix="/admin/webhooks", tags=["webhooks"])


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _id(value):
    return str(value) if value is not None else None


def endpoint_out(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": str(endpoint.id), "url": endpoint.url, "description": endpoint.description,
        "events": list(endpoint.events), "enabled": endpoint.enabled, "disabled_reason": endpoint.disabled_reason,
        "payload": endpoint.payload, "consent_id": _id(endpoint.consent_id), "recipient": endpoint.recipient,
        "failing_since": iso(endpoint.failing_since), "secret_rotating_until": iso(endpoint.previous_secret_until),
        "created_at": iso(endpoint.created_at), "updated_at": iso(endpoint.updated_at),
    }


def attempt_out(attempt: WebhookAttempt) -> dict:
    return {"number": attempt.number, "attempted_at": iso(attempt.attempted_at), "status_code": attempt.status_code,
            "latency_ms": attempt.latency_ms, "error": attempt.error, "succeeded": attempt.succeeded}


def delivery_out(delivery: WebhookDelivery, attempts: list[WebhookAttempt]) -> dict:
    return {
        "id": str(delivery.id), "endpoint_id": str(delivery.endpoint_id), "event_id": str(delivery.event_id),
        "event_type": delivery.event_type, "redelivery_of": _id(delivery.redelivery_of), "status": delivery.status,
        "attempt_count": delivery.attempt_count, "last_attempt_at": iso(delivery.last_attempt_at),
        "created_at": iso(delivery.created_at), "attempts": [attempt_out(a) for a in attempts],
    }


async def _safe_url(url: str, state) -> str:
    """Refused at registration, with the reason: a non-https URL where only https is allowed, a host that does
    not resolve, or one that resolves to a forbidden address (integrations/webhook_target.py). Checked again at
    every delivery, where the connection goes to the address checked. The URL's form is the body's (a 400); where
    it leads is a rule about the world the document cannot state, so a 422."""
    try:
        await webhook_target.check(url, state.webhook_targets)
    except webhook_target.UnsafeTarget as exc:
        raise BusinessRuleViolation(f"The webhook URL cannot be used: {exc}", [FieldError("url", exc.code, str(exc))],
                                    code="webhook_url_refused")
    return url


@router.post("", summary="Register a webhook endpoint (admin)", operation_id="create_webhook_endpoint",
             **answers(One(WebhookEndpointWithSecret), 403, 422, status=201))
async def create_webhook_endpoint(body: WebhookEndpointCreate, ctx: Ctx, state: State):
    """The secret is generated when none is given (`whsec_` + base64 of 32 random bytes) and shown only here."""
    policy.require(ctx.principal, service.ACTION)
    url = await _safe_url(body.url, state)
    endpoint, secret = await service.create_endpoint(
        ctx, state.cipher, url=url, events=body.events, secret=body.secret, description=body.description,
        payload=body.payload, consent_id=body.consent_id)
    return envelope.one({**endpoint_out(endpoint), "secret": secret})


@router.get("", summary="List webhook endpoints (admin)", operation_id="list_webhook_endpoints",
            **answers(list_of(WebhookEndpointOut, service.ENDPOINT_LIST_SPEC), 403))
async def list_webhook_endpoints(request: Request, ctx: Ctx):
    query = parse_list_query(list(request.query_params.multi_items()), service.ENDPOINT_LIST_SPEC)
    return envelope.page(await service.list_endpoints(ctx, query), query, endpoint_out)


@router.get("/{endpoint_id}", summary="Get a webhook endpoint (admin)", operation_id="get_webhook_endpoint",
            **answers(One(WebhookEndpointOut), 403, 404))
async def get_webhook_endpoint(endpoint_id: uuid.UUID, ctx: Ctx):
    return envelope.one(endpoint_out(await service.get_endpoint(ctx, endpoint_id)))


@router.patch("/{endpoint_id}", summary="Change a webhook endpoint's URL, events or enabled flag (admin)",
              operation_id="update_webhook_endpoint", **answers(One(WebhookEndpointOut), 403, 404, 422))
async def update_webhook_endpoint(endpoint_id: uuid.UUID, body: WebhookEndpointUpdate, ctx: Ctx, state: State):
    policy.require(ctx.principal, service.ACTION)
    changes = patch_changes(body)
    if "url" in changes:
        await _safe_url(changes["url"], state)
    return envelope.one(endpoint_out(await service.update_endpoint(ctx, endpoint_id, changes)))


@router.delete("/{endpoint_id}", summary="Delete a webhook endpoint (admin)", response_class=Response,
               operation_id="delete_webhook_endpoint", **answers(None, 403, 404, status=204))
async def delete_webhook_endpoint(endpoint_id: uuid.UUID, ctx: Ctx):
    await service.delete_endpoint(ctx, endpoint_id)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", summary="Rotate the signing secret (admin)",
             operation_id="rotate_webhook_endpoint_secret", **answers(One(WebhookEndpointWithSecret), 403, 404))
async def rotate_webhook_endpoint_secret(endpoint_id: uuid.UUID, ctx: Ctx, state: State):
    """The new secret is shown once; the old one keeps signing alongside it for 24 hours (two signatures in
    `webhook-signature`), so the receiver can switch without losing an event."""
    endpoint, secret = await service.rotate_secret(ctx, state.cipher, endpoint_id)
    return envelope.one({**endpoint_out(endpoint), "secret": secret})


@router.get("/{endpoint_id}/deliveries", summary="An endpoint's delivery log with every attempt (admin)",
            operation_id="list_webhook_deliveries",
            **answers(list_of(WebhookDeliveryOut, service.DELIVERY_LIST_SPEC), 403, 404))
async def list_webhook_deliveries(endpoint_id: uuid.UUID, request: Request, ctx: Ctx):
    """Newest first. Filters: status, event_type, event_id, created_at__gte/lte. Each delivery lists its
    attempts: time, status code, latency and error."""
    query = parse_list_query(list(request.query_params.multi_items()), service.DELIVERY_LIST_SPEC)
    page, attempts = await service.list_deliveries(ctx, endpoint_id, query)
    return envelope.page(page, query, lambda d: delivery_out(d, attempts[d.id]))


@router.post("/{endpoint_id}/deliveries/{delivery_id}/redeliver",
             summary="Deliver an event again (admin)", operation_id="redeliver_webhook_delivery",
             **answers(One(WebhookDeliveryOut), 403, 404, 409, status=202))
async def redeliver_webhook_delivery(endpoint_id: uuid.UUID, delivery_id: uuid.UUID, ctx: Ctx, state: State):
    """A new delivery of the same event, under the same `webhook-id`, with the full retry schedule."""
    delivery = await service.redeliver(ctx, endpoint_id, delivery_id)
    await state.outbox.commit_and_send(ctx.session, workflow.deliver(delivery.id))
    return envelope.one(delivery_out(delivery, []))


@router.post("/{endpoint_id}/test", summary="Send a webhook.test event (admin)",
             operation_id="test_webhook_endpoint", **answers(One(WebhookDeliveryOut), 403, 404, 409, status=202))
async def test_webhook_endpoint(endpoint_id: uuid.UUID, ctx: Ctx, state: State):
    delivery = await service.send_test(ctx, endpoint_id)
    await state.outbox.commit_and_send(ctx.session, workflow.deliver(delivery.id))
    return envelope.one(delivery_out(delivery, []))
