"""Operations merged before their router declared what they answer (issue 14's follow-up). The OpenAPI tests
leave them out: the declaration test, the role matrix, schemathesis and the generated client. Each is taken off
this list when its router declares `answers()`, the role matrix gains its PERMITTED (and BODIES) rows, and
schemathesis finds nothing on it. The list only shrinks; a new operation never joins it."""

from __future__ import annotations

import copy

UNDECLARED = frozenset({
    "check_portal_connection",
    "create_client_consent",
    "create_engagement",
    "create_portal_connection",
    "create_webhook_endpoint",
    "delete_engagement",
    "delete_portal_connection",
    "delete_webhook_endpoint",
    "get_consent",
    "get_engagement",
    "get_engagement_document",
    "get_form_8879",
    "get_portal_connection",
    "get_portal_sync",
    "get_webhook_endpoint",
    "google_webhook",
    "list_client_consents",
    "list_client_disclosures",
    "list_client_portal_items",
    "list_engagements",
    "list_portal_connections",
    "list_webhook_deliveries",
    "list_webhook_endpoints",
    "open_temporal_codec_browser_session",
    "pause_portal_connection",
    "redeliver_webhook_delivery",
    "resume_portal_connection",
    "revoke_consent",
    "rotate_webhook_endpoint_secret",
    "send_consent",
    "send_engagement",
    "send_form_8879",
    "sync_portal_connection",
    "test_webhook_endpoint",
    "update_engagement",
    "update_webhook_endpoint",
})


def declared(document: dict) -> dict:
    """The document without the operations still on the list (and without paths left empty)."""
    kept = copy.deepcopy(document)
    for path in list(kept["paths"]):
        item = kept["paths"][path]
        for method in [m for m, op in item.items() if isinstance(op, dict) and op.get("operationId") in UNDECLARED]:
            del item[method]
        if not any(isinstance(op, dict) and "operationId" in op for op in item.values()):
            del kept["paths"][path]
    return kept
