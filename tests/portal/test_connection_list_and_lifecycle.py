"""The connections list as a spec §3 list, and a sync's lifecycle: statuses declared once (domain/lifecycle), and a
sync whose workflow was terminated from outside (Temporal UI, a timeout) reconciled when it is read."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from sqlalchemy import select
from temporalio.service import RPCError

from domain.audit.models import AuditEntry
from domain.lifecycle import history as lifecycle_history
from domain.portal.lifecycle import SYNC_LIFECYCLE
from orchestration.portal import workflow_id
from tests.portal.conftest import connect, consent, knobs, sync, wait_for_sync


async def test_the_connections_list_pages_with_a_cursor_filters_and_limits_fields(tp, office, portal):
    second_client = await tp.new_client(office.headers, name="Morgan Diaz")
    second_consent = await consent(tp, office.firm_id, uuid.UUID(second_client["id"]))
    first = await connect(tp, office, portal)
    second = await connect(tp, office, portal, client_id=second_client["id"], consent_id=str(second_consent))

    page = await tp.http.get("/v1/portal-connections?limit=1", headers=office.headers)
    assert page.status_code == 200, page.text
    assert [c["id"] for c in page.json()["data"]] == [second["id"]]  # newest first
    pagination = page.json()["pagination"]
    assert pagination["has_more"] and pagination["total_count"] == 2 and pagination["cursor"]
    rest = await tp.http.get(f"/v1/portal-connections?limit=1&cursor={pagination['cursor']}", headers=office.headers)
    assert [c["id"] for c in rest.json()["data"]] == [first["id"]] and not rest.json()["pagination"]["has_more"]

    mine = await tp.http.get(f"/v1/portal-connections?client_id={office.client_id}&fields=id,status",
                             headers=office.headers)
    assert mine.json()["data"] == [{"id": first["id"], "status": "active"}]
    paused = await tp.http.get("/v1/portal-connections?status=paused", headers=office.headers)
    assert paused.json()["data"] == [] and paused.json()["pagination"]["total_count"] == 0

    for bad in ("limit=0", "status=sleeping", "sort=base_url", "fields=password", "cursor=forged", "colour=red"):
        answer = await tp.http.get(f"/v1/portal-connections?{bad}", headers=office.headers)
        assert answer.status_code == 400, (bad, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_readme_shows_the_sync_lifecycle_as_the_code_declares_it():
    text = (Path(__file__).resolve().parents[2] / "docs" / "portal" / "README.md").read_text()
    table = text.split("<!-- sync-transitions:start -->\n", 1)[1].split("\n<!-- sync-transitions:end -->", 1)[0]
    assert table == SYNC_LIFECYCLE.markdown_table(), "regenerate with SYNC_LIFECYCLE.markdown_table()"


async def test_a_sync_whose_workflow_is_terminated_reads_as_failed_and_does_not_block_the_next(tp, office, portal):
    # A slow portal: every documents page waits on a 429 of one second, so the sync is in flight when terminated.
    connection = await connect(tp, office, portal)
    knobs(portal, max_per_page=1, faults=[{"path": "/api/documents", "status": 429, "times": 50, "retry_after": 1}])
    started = await tp.http.post(f"/v1/portal-connections/{connection['id']}/sync", headers=office.headers)
    assert started.status_code == 202, started.text
    sync_id = started.json()["data"]["id"]
    handle = tp.temporal.get_workflow_handle(workflow_id(uuid.UUID(connection["id"]), uuid.UUID(sync_id)))
    for _ in range(100):  # the outbox starts the workflow just after the request commits
        try:
            await handle.describe()
            break
        except RPCError:
            await asyncio.sleep(0.1)
    await asyncio.sleep(1)
    await handle.terminate("stuck, says an operator in Temporal's UI")

    read = await tp.http.get(f"/v1/portal-connections/{connection['id']}/syncs/{sync_id}", headers=office.headers)
    assert read.status_code == 200, read.text
    sync = read.json()["data"]
    assert sync["status"] == "failed" and sync["error"].startswith("workflow_terminated"), sync
    assert sync["finished_at"] is not None
    again = await tp.http.get(f"/v1/portal-connections/{connection['id']}", headers=office.headers)
    assert again.json()["data"]["status"] == "failing"
    assert again.json()["data"]["last_sync"]["status"] == "failed"
    async with tp.state.sessionmaker() as session:
        history = await lifecycle_history.entries(session, SYNC_LIFECYCLE, uuid.UUID(sync_id))
        audit = (await session.execute(select(AuditEntry).where(
            AuditEntry.action == "portal_sync.finish", AuditEntry.resource_id == connection["id"]))).scalars().all()
    assert [(h.from_status, h.to_status, h.action, h.actor_role) for h in history] == [
        ("running", "failed", "abandon", "system")]
    assert [a.details["action"] for a in audit] == ["abandon"]  # recorded once, though read twice

    knobs(portal, faults=[])
    next_sync = await tp.http.post(f"/v1/portal-connections/{connection['id']}/sync", headers=office.headers)
    assert next_sync.status_code == 202, next_sync.text  # not a 409: the terminated sync no longer runs
    outcome = await wait_for_sync(tp, office, connection["id"], next_sync.json()["data"]["id"])
    assert outcome["status"] == "succeeded", outcome


async def test_a_finished_sync_records_its_one_transition(tp, office, portal):
    connection = await connect(tp, office, portal, surfaces=["tasks"])
    outcome = await sync(tp, office, connection["id"])
    assert outcome["status"] == "succeeded", outcome
    async with tp.state.sessionmaker() as session:
        history = await lifecycle_history.entries(session, SYNC_LIFECYCLE, uuid.UUID(outcome["id"]))
    assert [(h.from_status, h.to_status, h.action) for h in history] == [("running", "succeeded", "succeed")]
