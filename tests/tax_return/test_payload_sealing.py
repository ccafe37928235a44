"""Temporal as a trust boundary: every payload in Temporal is sealed with our key, and a caller who reaches
Temporal's port without it cannot move a return (issue 13: the forged Update)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from temporalio.api.common.v1 import Payload, SearchAttributes
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter

from orchestration import domain_error, ids
from orchestration.payload_codec import SEALED, SealedPayloadCodec, parse_keys
from orchestration.tax_return import TRANSITION_UPDATE, TransitionRequest, start

from tests.tax_return.conftest import create_return, insert_return, transition, wait_for_status


def _payloads(history) -> list[Payload]:
    """Every payload the history carries: inputs, arguments, results (not search attributes, which are ids)."""
    found = []

    def walk(message):
        if isinstance(message, Payload):
            found.append(message)
        elif not isinstance(message, SearchAttributes):
            for field, value in message.ListFields():
                if field.message_type is None:
                    continue
                if hasattr(value, "ListFields"):
                    walk(value)
                else:  # a repeated field or a map: walk the messages in it
                    for item in (value.values() if hasattr(value, "values") else value):
                        if hasattr(item, "ListFields"):
                            walk(item)

    for event in history.events:
        marker = event.marker_recorded_event_attributes
        if event.HasField("marker_recorded_event_attributes"):
            # A marker's own bookkeeping (a patch id, a local activity's id and attempt) is the SDK's, in clear; a
            # local activity's result is in `result`.
            for item in marker.details["result"].payloads if "result" in marker.details else []:
                walk(item)
        else:
            walk(event)
    return found


async def test_no_payload_in_temporal_is_in_clear(tp, office):
    h = office.headers
    created = await create_return(tp, h["preparer"], office.client["id"], tax_year=2016)
    await transition(tp, h["system"], created["id"], "documents_received", notes="W-2 from Acme arrived")
    raw = await Client.connect(tp.settings.temporal_address, namespace=tp.settings.temporal_namespace)
    history = await raw.get_workflow_handle(ids.tax_return(uuid.UUID(created["id"]))).fetch_history()
    payloads = _payloads(history)
    assert len(payloads) >= 3  # the input, the Update's request and result, the activity's record …
    for payload in payloads:
        assert payload.metadata["encoding"] == SEALED, payload
        for clear in (created["id"], office.client["id"], "W-2 from Acme", "documents_received"):
            assert clear.encode() not in payload.data


async def test_a_forged_update_without_the_key_is_refused_and_nothing_is_recorded(tp, office):
    h = office.headers
    created = await create_return(tp, h["preparer"], office.client["id"], tax_year=2015)
    rid = created["id"]
    # Someone who reaches port 7233: a client with the right converter but not our key.
    forger = await Client.connect(tp.settings.temporal_address, namespace=tp.settings.temporal_namespace,
                                  data_converter=pydantic_data_converter)
    forged = TransitionRequest(action="documents_received", actor_role="system", source="forger")
    with pytest.raises(WorkflowUpdateFailedError):
        await forger.get_workflow_handle(ids.tax_return(uuid.UUID(rid))).execute_update(TRANSITION_UPDATE, forged)
    # A key of its own does not help either.
    other_key = "x:" + "A" * 43 + "="
    forger_with_key = await Client.connect(
        tp.settings.temporal_address, namespace=tp.settings.temporal_namespace,
        data_converter=pydantic_data_converter.__class__(
            payload_converter_class=pydantic_data_converter.payload_converter_class,
            payload_codec=SealedPayloadCodec(parse_keys(other_key))))
    with pytest.raises(WorkflowUpdateFailedError):
        await forger_with_key.get_workflow_handle(ids.tax_return(uuid.UUID(rid))).execute_update(
            TRANSITION_UPDATE, forged)
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["preparer"])).json()["data"]
    assert state["current_status"] == "intake" and state["history"] == []
    # The workflow is not held back: the real caller still moves it.
    await transition(tp, h["system"], rid, "documents_received")
    await wait_for_status(tp, h["preparer"], rid, "documents_pending")


async def test_the_codec_opens_only_what_one_of_its_keys_sealed():
    old, new = "old:" + "A" * 43 + "=", "new:" + "B" * 43 + "="
    payload = Payload(metadata={"encoding": b"json/plain"}, data=b'{"ssn_last4": "1234"}')
    [sealed_old] = await SealedPayloadCodec(parse_keys(old)).encode([payload])
    rotating = SealedPayloadCodec(parse_keys(f"{new},{old}"))
    assert (await rotating.decode([sealed_old]))[0] == payload  # the old key still opens during rotation
    [sealed_new] = await rotating.encode([payload])
    assert sealed_new.metadata["seal-key-id"] == b"new"
    assert (await SealedPayloadCodec(parse_keys(old)).decode([sealed_new]))[0].metadata["encoding"] == b"binary/refused"
    tampered = Payload(metadata=sealed_new.metadata, data=sealed_new.data[:-1] + bytes([sealed_new.data[-1] ^ 1]))
    assert (await rotating.decode([tampered]))[0].metadata["encoding"] == b"binary/refused"
    assert (await rotating.decode([payload]))[0].metadata["encoding"] == b"binary/refused"
    assert (await SealedPayloadCodec(parse_keys(new), accept_unsealed=True).decode([payload]))[0] == payload


async def test_the_workflow_rechecks_own_work_against_the_assignee_it_knows(tp, office):
    """A sealed request that names no preparer cannot approve the work of the preparer the workflow knows: the
    guard is checked again with the workflow's own assignee (issue 13)."""
    preparer = office.users["preparer"]
    tax_return = await insert_return(tp, office, "in_review", datetime.now(timezone.utc),
                                     date.today() + timedelta(days=60))
    await start(tp.temporal, tax_return)
    claim = TransitionRequest(action="approve", actor_role="ea_cpa", actor_id=preparer.id, assigned_preparer_id=None)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await tp.temporal.get_workflow_handle(ids.tax_return(tax_return.id)).execute_update(TRANSITION_UPDATE, claim)
    refusal = domain_error.from_failure(refused.value)
    assert (refusal.status, refusal.code) == (422, "not_own_work"), refusal
    state = (await tp.http.get(f"/v1/returns/{tax_return.id}/workflow/state",
                               headers=office.headers["preparer"])).json()["data"]
    assert state["current_status"] == "in_review" and state["history"] == []


async def test_admins_and_ea_cpas_read_sealed_payloads_through_the_codec_endpoint(tp, office):
    import base64
    import json

    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads

    created = await create_return(tp, office.headers["preparer"], office.client["id"], tax_year=2014)
    raw = await Client.connect(tp.settings.temporal_address, namespace=tp.settings.temporal_namespace)
    history = await raw.get_workflow_handle(ids.tax_return(uuid.UUID(created["id"]))).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input
    body = json_format.MessageToDict(Payloads(payloads=started.payloads))
    url = "/v1/admin/temporal-codec/decode"
    for role in ("admin", "ea_cpa"):
        response = await tp.http.post(url, json=body, headers={**office.headers[role], "X-Namespace": "default"})
        assert response.status_code == 200, response.text
        [opened] = response.json()["payloads"]
        assert base64.b64decode(opened["metadata"]["encoding"]) == b"json/plain"
        assert json.loads(base64.b64decode(opened["data"]))["state"]["return_id"] == created["id"]
    for role in ("reviewer", "preparer", "client"):
        assert (await tp.http.post(url, json=body, headers=office.headers[role])).status_code == 403, role
    assert (await tp.http.post(url, json=body)).status_code == 401
    assert (await tp.http.post(url, json={"payloads": "nope"}, headers=office.headers["admin"])).status_code == 400
