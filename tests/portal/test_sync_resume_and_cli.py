"""A worker killed mid-walk resumes at the page it was on and stores nothing twice; the CLI's sync and check."""

from __future__ import annotations

import asyncio
import io
import uuid

from rich.console import Console
from sqlalchemy import func, select

from cli import portal as portal_cli
from domain.document.models import Document
from domain.portal.models import PortalItem
from sandboxes.portal import PortalData, start
from sandboxes.portal.data import large_account
from tests.portal.conftest import body, knobs, stats, wait_for_sync


def small_large_portal():
    data = PortalData()
    data.add_login("big@portal.example", "pw", None, [large_account("acc_big", documents=24, document_size=2000,
                                                                    invoices=0, messages=0)])
    return start(data)


async def _connect(tp, office, server, **extra) -> dict:
    answer = await tp.http.post("/v1/portal-connections", headers=office.headers, json=body(
        office, server, email="big@portal.example", password="pw", totp_secret=None, **extra))
    assert answer.status_code == 201, answer.text
    return answer.json()["data"]


async def test_a_worker_killed_mid_walk_resumes_where_it_stopped_and_stores_nothing_twice(tp, office):
    server = small_large_portal()
    try:
        connection = await _connect(tp, office, server, surfaces=["documents"])
        knobs(server, max_per_page=2, latency_s=0.15)
        started = await tp.http.post(f"/v1/portal-connections/{connection['id']}/sync", headers=office.headers)
        sync_id = started.json()["data"]["id"]
        for _ in range(200):
            progress = (await tp.http.get(f"/v1/portal-connections/{connection['id']}/syncs/{sync_id}",
                                          headers=office.headers)).json()["data"]["results"]
            if progress and progress[0]["seen"] >= 4:
                break
            await asyncio.sleep(0.1)
        await tp.restart_workers()  # the worker dies mid-walk; a new one takes the pull up from its heartbeat
        outcome = await wait_for_sync(tp, office, connection["id"], sync_id, timeout_s=180)
        assert outcome["status"] == "succeeded", outcome
        [pull] = outcome["results"]
        assert pull["created"] == 24
        requests = stats(server)["requests"]
        assert requests["/api/documents"] < 2 * 13  # 12 pages over three areas (+1 at most): not walked twice
        async with tp.state.sessionmaker() as session:
            items = await session.scalar(select(func.count()).select_from(PortalItem).where(
                PortalItem.connection_id == uuid.UUID(connection["id"])))
            documents = await session.scalar(select(func.count()).select_from(Document).where(
                Document.client_id == uuid.UUID(connection["accounts"][0]["client_id"]), Document.source == "portal"))
        assert items == documents == 24
    finally:
        server.stop()


async def test_the_cli_runs_a_sync_with_progress_and_the_drift_check(tp, office):
    server = small_large_portal()
    try:
        connection = await _connect(tp, office, server)
        out = io.StringIO()
        console = Console(file=out, width=120)
        status = await portal_cli.sync(tp.settings, tp.state.engine, uuid.UUID(connection["id"]), console)
        assert status == 0, out.getvalue()
        assert "documents · acc_big" in out.getvalue() and "succeeded" in out.getvalue()
        assert await portal_cli.check(tp.settings, tp.state.engine, uuid.UUID(connection["id"]), console) == 0
        knobs(server, drift={"documents": {"kind": "enum", "field": "folder"}})
        out.truncate(0)
        assert await portal_cli.check(tp.settings, tp.state.engine, uuid.UUID(connection["id"]), console) == 1
        assert "drift" in out.getvalue() and "folder" in out.getvalue()
        assert await portal_cli.sync(tp.settings, tp.state.engine, uuid.uuid4(), console) == 2
    finally:
        server.stop()
