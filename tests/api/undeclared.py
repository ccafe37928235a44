"""Operations merged before their router declared what they answer (issue 14's follow-up). The OpenAPI tests
leave them out: the declaration test, the role matrix, schemathesis and the generated client. Each is taken off
this list when its router declares `answers()`, the role matrix gains its PERMITTED (and BODIES) rows, and
schemathesis finds nothing on it. The list only shrinks; a new operation never joins it."""

from __future__ import annotations

import copy

UNDECLARED = frozenset({
    "efiling_webhook",
    "get_efile_transmission",
    "get_identity_verification",
    "initiate_identity_verification",
    "list_efile_rejections",
    "list_efile_transmissions",
    "persona_webhook",
    "resubmit_efile_transmission",
    "review_identity_verification",
    "schedule_identity_video",
    "send_identity_email_code",
    "send_identity_phone_code",
    "start_identity_government_id",
    "transmit_return",
    "verify_identity_email_code",
    "verify_identity_phone_code",
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
