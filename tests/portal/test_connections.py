"""Portal connections through the API, with the real workers and the portal sandbox: creation under a consent,
a full sync of every surface of every linked account, an incremental resync that downloads nothing, the gate on
every pull, pause/resume/delete, drift, and the drift check."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select, update

from domain.consent.models import Consent
from domain.document.models import Document
from domain.portal.models import PortalConnection, PortalItem
from sandboxes.portal import DEMO_PASSWORD, PortalData, start
from sandboxes.portal.data import Account, fill_account
from tests.portal.conftest import (
    PORTAL_NAME, body, connect, consent, knobs, reset_stats, stats, sync, wait_for_sync,
)
from tests.support import domain_events


async def test_a_connection_signs_in_maps_each_linked_account_to_its_own_client_and_never_returns_secrets(
        tp, office, portal):
    connection = await connect(tp, office, portal)
    assert connection["status"] == "active" and connection["recipient"] == PORTAL_NAME
    assert connection["surfaces"] == ["documents", "organizers", "engagements", "signatures", "invoices",
                                      "messages", "tasks"]
    assert connection["schedule"] == "0 3 * * *" and connection["next_run_at"] is not None
    couple, business = connection["accounts"]
    assert (couple["portal_account_id"], couple["client_id"], couple["matched_by"]) == (
        "acc_1", str(office.client_id), "connection_client")  # "Jordan & Casey Lee" is not "Jordan Lee": first listed
    assert business["client_id"] != str(office.client_id) and business["type"] == "business"
    for secret in (DEMO_PASSWORD, "totp_secret", "password"):
        assert secret not in str(connection)
    async with tp.state.sessionmaker() as session:
        row = await session.get(PortalConnection, uuid.UUID(connection["id"]))
    assert DEMO_PASSWORD.encode() not in row.password_encrypted
    log = await tp.http.get(f"/v1/clients/{office.client_id}/disclosures", headers=office.headers)
    assert [(e["information"], e["allowed"], e["consent_id"]) for e in log.json()["data"]] == [
        ("portal.accounts", True, str(office.consent_id))]
    schedule = await tp.temporal.get_schedule_handle(f"portal-sync-schedule:{connection['id']}").describe()
    assert schedule.schedule.spec.cron_expressions == ["0 3 * * *"] or schedule.schedule.spec.calendars


async def test_a_connection_is_refused_without_a_consent_that_covers_a_portal_import(tp, office, portal):
    cases = {
        "wrong_purpose": await consent(tp, office.firm_id, office.client_id, purpose="document_processing"),
        "consent_revoked": await consent(tp, office.firm_id, office.client_id, status="revoked",
                                         revoked_at=datetime.now(timezone.utc)),
        "consent_expired": await consent(tp, office.firm_id, office.client_id,
                                         expires_at=datetime.now(timezone.utc) - timedelta(minutes=1)),
        "consent_not_signed": await consent(tp, office.firm_id, office.client_id, status="sent", signed_at=None),
        "not_found": uuid.uuid4(),
    }
    for code, consent_id in cases.items():
        answer = await tp.http.post("/v1/portal-connections", json=body(office, portal, consent_id=str(consent_id)),
                                    headers=office.headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [("consent_id", code)]
    assert stats(portal)["sign_ins"] == []  # nothing left for the portal


async def test_a_wrong_password_is_a_422_naming_the_field_and_stores_nothing(tp, office, portal):
    answer = await tp.http.post("/v1/portal-connections", json=body(office, portal, password="wrong"),
                                headers=office.headers)
    assert answer.status_code == 422, answer.text
    assert [(e["field"], e["code"]) for e in answer.json()["errors"]] == [("password", "invalid_credentials")]
    async with tp.state.sessionmaker() as session:
        assert (await session.execute(select(PortalConnection).where(
            PortalConnection.client_id == office.client_id))).first() is None
    assert len(stats(portal)["sign_ins"]) == 1


async def test_accounts_outside_the_firms_data_region_are_refused(tp, office):
    data = PortalData()
    eu = Account("acc_eu", "Lee GmbH", "business", "eu")
    fill_account(eu)
    data.add_login("eu@portal.example", "pw", None, [eu])
    server = start(data)
    try:
        answer = await tp.http.post("/v1/portal-connections", headers=office.headers, json=body(
            office, server, email="eu@portal.example", password="pw", totp_secret=None))
    finally:
        server.stop()
    assert answer.status_code == 422 and answer.json()["type"].endswith("/region_mismatch"), answer.text


async def test_bad_bodies_are_400s(tp, office, portal):
    for change in ({"surfaces": ["payroll"]}, {"schedule": "every night"}, {"base_url": "ftp://x"},
                   {"totp_secret": "not base32!"}, {"extra": 1}):
        answer = await tp.http.post("/v1/portal-connections", json=body(office, portal, **change),
                                    headers=office.headers)
        assert answer.status_code in (400, 422), (change, answer.text)
    preparer_headers = (await tp.staff(office.firm_id, "preparer"))[1]
    answer = await tp.http.post("/v1/portal-connections", json=body(office, portal), headers=preparer_headers)
    assert answer.status_code == 403


async def test_a_sync_mirrors_every_surface_of_every_linked_account_and_a_resync_downloads_nothing(
        tp, office, portal):
    connection = await connect(tp, office, portal)
    first = await sync(tp, office, connection["id"])
    assert first["status"] == "succeeded", first
    assert {(r["surface"], r["portal_account_id"]) for r in first["results"]} == {
        (s, a) for s in connection["surfaces"] for a in ("acc_1", "acc_2")}
    docs = {r["portal_account_id"]: r for r in first["results"] if r["surface"] == "documents"}
    assert docs["acc_1"]["created"] == 4 and docs["acc_1"]["bytes_downloaded"] > 0
    business_client = connection["accounts"][1]["client_id"]

    listed = await tp.http.get("/v1/documents", params={"client_id": str(office.client_id), "source": "portal"},
                               headers=office.headers)
    documents = {d["filename"]: d for d in listed.json()["data"]}
    assert (documents["W2_Acme_2025.pdf"]["folder_area"], documents["W2_Acme_2025.pdf"]["folder_path"]) == (
        "client_uploaded", "2025/Income")
    assert documents["W2_Acme_2025.pdf"]["tax_year"] == 2025
    assert documents["1099-INT.pdf"]["folder_area"] == "organizer_attachments"
    assert documents["Drivers_License.pdf"]["folder_path"] == ""
    content = await tp.http.get(f"/v1/documents/{documents['W2_Acme_2025.pdf']['id']}/download",
                                headers=office.headers, follow_redirects=True)
    if content.status_code == 200 and content.headers.get("content-type", "").startswith("application/pdf"):
        assert hashlib.sha256(content.content).hexdigest() == documents["W2_Acme_2025.pdf"]["sha256"]
    # ids repeat across accounts ("doc_1" in both) and stay apart: the business has its own four
    other = await tp.http.get("/v1/documents", params={"client_id": business_client, "source": "portal"},
                              headers=office.headers)
    assert len(other.json()["data"]) == 4

    organizers = (await tp.http.get(f"/v1/clients/{office.client_id}/portal/organizers",
                                    headers=office.headers)).json()["data"]
    [organizer] = organizers
    assert organizer["questions"][0]["answer"] == {"type": "boolean", "value": True}
    assert organizer["questions"][0]["attachment_document_ids"] == [documents["W2_Acme_2025.pdf"]["id"]]
    invoices = (await tp.http.get(f"/v1/clients/{office.client_id}/portal/invoices",
                                  headers=office.headers)).json()
    assert sorted(i["number"] for i in invoices["data"]) == ["1042", "1043"]
    assert invoices["pagination"]["total_count"] == 2
    assert (await tp.http.get("/v1/invoices", params={"client_id": str(office.client_id)},
                              headers=office.headers)).json()["data"] == []  # kept apart from the firm's own
    [thread] = (await tp.http.get(f"/v1/clients/{office.client_id}/portal/threads",
                                  headers=office.headers)).json()["data"]
    assert [m["author"]["type"] for m in thread["messages"]] == ["firm", "client"]
    [signature] = (await tp.http.get(f"/v1/clients/{office.client_id}/portal/signatures",
                                     headers=office.headers)).json()["data"]
    assert [e["event"] for e in signature["audit_trail"]] == ["viewed", "signed"]
    for surface in ("engagements", "tasks"):
        assert (await tp.http.get(f"/v1/clients/{office.client_id}/portal/{surface}",
                                  headers=office.headers)).json()["data"]
    # Not a surface: the path's enum (docs/portal/README.md).
    assert (await tp.http.get(f"/v1/clients/{office.client_id}/portal/payroll",
                              headers=office.headers)).status_code == 400

    log = (await tp.http.get(f"/v1/clients/{office.client_id}/disclosures", params={"limit": 100},
                             headers=office.headers)).json()["data"]
    pulls = {(e["information"], e["entity_id"]) for e in log if e["information"] != "portal.accounts"}
    assert pulls == {(f"portal.{s}", a["client_id"]) for s in connection["surfaces"] for a in connection["accounts"]}
    assert all(e["allowed"] and e["consent_id"] == str(office.consent_id) for e in log)

    reset_stats(portal)
    second = await sync(tp, office, connection["id"])
    assert second["status"] == "succeeded"
    assert stats(portal)["bytes_downloaded"] == 0
    assert sum(r["created"] + r["updated"] for r in second["results"]) == 0
    assert not any("/download" in path for path in stats(portal)["requests"])

    httpx.post(f"{portal.url}/_sandbox/touch", json={"account_id": "acc_1", "surface": "invoices",
                                                      "item_id": "inv_1", "changes": {"amount_paid": "450.00",
                                                                                      "status": "paid"}})
    third = await sync(tp, office, connection["id"])
    [invoices_pull] = [r for r in third["results"] if (r["surface"], r["portal_account_id"]) == ("invoices", "acc_1")]
    assert (invoices_pull["created"], invoices_pull["updated"]) == (0, 1)
    async with tp.state.sessionmaker() as session:
        rows = (await session.execute(select(PortalItem).where(
            PortalItem.connection_id == uuid.UUID(connection["id"]), PortalItem.surface == "invoices",
            PortalItem.portal_item_id == "inv_1"))).scalars().all()
    assert [r.data["status"] for r in rows if r.portal_account_id == "acc_1"] == ["paid"]  # in place, once


async def test_a_revoked_consent_stops_the_sync_before_its_next_request(tp, office, portal):
    connection = await connect(tp, office, portal)
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(update(Consent).where(Consent.id == office.consent_id).values(
            status="revoked", revoked_at=datetime.now(timezone.utc)))
    reset_stats(portal)
    outcome = await sync(tp, office, connection["id"])
    assert outcome["status"] == "failed" and outcome["error"] == "consent_revoked"
    assert stats(portal)["total_requests"] == 0
    log = (await tp.http.get(f"/v1/clients/{office.client_id}/disclosures", headers=office.headers)).json()["data"]
    assert (log[0]["allowed"], log[0]["refusal_reason"]) == (False, "consent_revoked")
    status = (await tp.http.get(f"/v1/portal-connections/{connection['id']}", headers=office.headers)).json()
    assert status["data"]["status"] == "failing"


async def test_drift_stops_that_surface_naming_it_and_the_field_and_the_check_reports_it(tp, office, portal):
    connection = await connect(tp, office, portal)
    knobs(portal, drift={"invoices": {"kind": "missing", "field": "total"}})
    check = await tp.http.post(f"/v1/portal-connections/{connection['id']}/check", headers=office.headers)
    assert check.status_code == 200, check.text
    found = {(s["surface"], s["portal_account_id"]): s for s in check.json()["data"]["surfaces"]}
    assert check.json()["data"]["ok"] is False
    assert (found[("invoices", "acc_1")]["status"], found[("invoices", "acc_1")]["field"]) == ("drift", "total")
    assert found[("tasks", "acc_1")]["status"] == "ok"
    async with tp.state.sessionmaker() as session:  # the check stores nothing
        assert (await session.execute(select(PortalItem).where(
            PortalItem.connection_id == uuid.UUID(connection["id"])))).first() is None

    outcome = await sync(tp, office, connection["id"])
    assert outcome["status"] == "failed"
    [drifted] = [r for r in outcome["results"] if (r["surface"], r["portal_account_id"]) == ("invoices", "acc_1")]
    assert drifted["status"] == "failed" and "invoices" in drifted["error"] and "'total'" in drifted["error"]
    assert drifted["created"] == 0
    tasks = [r for r in outcome["results"] if r["surface"] == "tasks"]
    assert all(r["status"] == "ok" and r["created"] == 2 for r in tasks)
    status = (await tp.http.get(f"/v1/portal-connections/{connection['id']}", headers=office.headers)).json()
    assert status["data"]["status"] == "failing"


async def test_a_surface_not_enabled_is_never_read(tp, office, portal):
    connection = await connect(tp, office, portal, surfaces=["tasks"])
    reset_stats(portal)
    outcome = await sync(tp, office, connection["id"])
    assert outcome["status"] == "succeeded"
    assert {r["surface"] for r in outcome["results"]} == {"tasks"}
    assert await domain_events(tp, outcome["id"]) == [("portal.sync_finished", {"status": "succeeded"})]
    assert set(stats(portal)["requests"]) <= {"/api/accounts", "/api/tasks", "/api/accounts/select"}


async def test_rate_limits_outages_and_account_switches_mid_walk_still_mirror_everything_once(tp, office, portal):
    knobs(portal, max_per_page=1, switch_account_every=3,
          faults=[{"path": "/api/invoices", "status": 429, "times": 2, "retry_after": None},
                  {"path": "/api/documents", "status": 503, "times": 2, "body": "html", "after": 2}])
    connection = await connect(tp, office, portal)
    outcome = await sync(tp, office, connection["id"])
    assert outcome["status"] == "succeeded", outcome
    created = {(r["surface"], r["portal_account_id"]): r["created"] for r in outcome["results"]}
    assert created[("invoices", "acc_1")] == created[("invoices", "acc_2")] == 2
    assert created[("documents", "acc_2")] == 4 and created[("messages", "acc_1")] == 2


async def test_pause_resume_and_delete_drive_the_schedule(tp, office, portal):
    connection = await connect(tp, office, portal)
    handle = tp.temporal.get_schedule_handle(f"portal-sync-schedule:{connection['id']}")
    paused = await tp.http.post(f"/v1/portal-connections/{connection['id']}/pause", headers=office.headers)
    assert paused.status_code == 200 and paused.json()["data"]["status"] == "paused"
    assert (await handle.describe()).schedule.state.paused
    assert (await tp.http.post(f"/v1/portal-connections/{connection['id']}/sync",
                               headers=office.headers)).status_code == 409
    assert (await tp.http.post(f"/v1/portal-connections/{connection['id']}/pause",
                               headers=office.headers)).status_code == 409
    resumed = await tp.http.post(f"/v1/portal-connections/{connection['id']}/resume", headers=office.headers)
    assert resumed.json()["data"]["status"] == "active"
    assert not (await handle.describe()).schedule.state.paused
    deleted = await tp.http.delete(f"/v1/portal-connections/{connection['id']}", headers=office.headers)
    assert deleted.status_code == 204
    assert (await tp.http.get(f"/v1/portal-connections/{connection['id']}", headers=office.headers)).status_code == 404
    async with tp.state.sessionmaker() as session:
        row = await session.get(PortalConnection, uuid.UUID(connection["id"]))
    assert row.password_encrypted == b"" and row.totp_secret_encrypted is None
    try:
        await handle.describe()
        raise AssertionError("the schedule outlived its connection")
    except Exception as exc:  # RPCError NOT_FOUND
        assert "not found" in str(exc).lower() or "NOT_FOUND" in str(exc)


async def test_pausing_stops_a_sync_in_flight(tp, office, portal):
    # A slow portal: every documents page waits on a 429 of one second, so the sync is in flight when paused.
    connection = await connect(tp, office, portal)
    knobs(portal, max_per_page=1, faults=[{"path": "/api/documents", "status": 429, "times": 50, "retry_after": 1}])
    started = await tp.http.post(f"/v1/portal-connections/{connection['id']}/sync", headers=office.headers)
    await asyncio.sleep(2)
    await tp.http.post(f"/v1/portal-connections/{connection['id']}/pause", headers=office.headers)
    outcome = await wait_for_sync(tp, office, connection["id"], started.json()["data"]["id"], timeout_s=60)
    assert outcome["status"] == "cancelled", outcome
    before = stats(portal)["total_requests"]
    await asyncio.sleep(2)
    assert stats(portal)["total_requests"] == before  # nothing after the pause


async def test_the_normalized_surfaces_are_in_the_openapi_document_and_its_standalone_copy_is_current(tp):
    import json

    from api.schemas.portal_surfaces import openapi
    from settings import PROJECT_ROOT

    document = (await tp.http.get("/v1/openapi.json")).json()
    assert {"PortalOrganizer", "PortalThread", "PortalInvoice"} <= set(document["components"]["schemas"])
    for operation in ("create_portal_connection", "list_client_portal_items", "check_portal_connection"):
        assert any(op.get("operationId") == operation for path in document["paths"].values() for op in path.values())
    committed = json.loads((PROJECT_ROOT / "docs/portal/surfaces.openapi.json").read_text())
    assert committed == json.loads(json.dumps(openapi())), "python -m api.schemas.portal_surfaces > docs/portal/…"


async def test_the_schedule_runs_a_sync_of_its_own_and_skips_overlaps(tp, office, portal):
    from temporalio.client import ScheduleOverlapPolicy

    from domain.portal.models import PortalSync

    connection = await connect(tp, office, portal, surfaces=["tasks"], schedule="15 2 * * 1")
    handle = tp.temporal.get_schedule_handle(f"portal-sync-schedule:{connection['id']}")
    described = await handle.describe()
    assert described.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    await handle.trigger()
    for _ in range(300):
        async with tp.state.sessionmaker() as session:
            runs = (await session.execute(select(PortalSync).where(
                PortalSync.connection_id == uuid.UUID(connection["id"])))).scalars().all()
        if runs and runs[0].status != "running":
            break
        await asyncio.sleep(0.2)
    [run] = runs
    assert (run.trigger, run.status) == ("schedule", "succeeded")
    assert run.workflow_id.startswith(f"portal-sync:{connection['id']}")
    shown = (await tp.http.get(f"/v1/portal-connections/{connection['id']}", headers=office.headers)).json()["data"]
    assert shown["last_sync"]["id"] == str(run.id) and shown["next_run_at"] is not None


async def test_a_consent_revoked_mid_walk_stops_the_sync_before_its_next_request(tp, office, portal):
    connection = await connect(tp, office, portal, surfaces=["invoices", "tasks"])
    knobs(portal, max_per_page=1, latency_s=0.4)
    started = await tp.http.post(f"/v1/portal-connections/{connection['id']}/sync", headers=office.headers)
    await asyncio.sleep(1.5)
    async with tp.state.sessionmaker.begin() as session:
        await session.execute(update(Consent).where(Consent.id == office.consent_id).values(
            status="revoked", revoked_at=datetime.now(timezone.utc)))
    revoked_at = stats(portal)["total_requests"]
    outcome = await wait_for_sync(tp, office, connection["id"], started.json()["data"]["id"], timeout_s=60)
    assert outcome["status"] == "failed" and "consent_revoked" in outcome["error"], outcome
    assert stats(portal)["total_requests"] <= revoked_at + 1  # at most the request already on its way
    refused = [e for e in (await tp.http.get(f"/v1/clients/{office.client_id}/disclosures",
                                             headers=office.headers)).json()["data"] if not e["allowed"]]
    assert refused and refused[0]["refusal_reason"] == "consent_revoked"


async def test_a_page_that_fails_while_the_next_one_downloads_leaves_no_object_without_its_document(tp, office,
                                                                                                     portal):
    """Pages overlap (the next one downloads while one commits): when one fails, the objects the pages after it
    already stored are deleted, and nothing after it commits."""
    connection = await connect(tp, office, portal, surfaces=["documents"])
    # One document per page. The first download is refused after a second (a 4xx is not retried): meanwhile the
    # next page is listed and its document downloaded and stored.
    knobs(portal, max_per_page=1, faults=[{"path": "/api/documents/", "status": 404, "times": 1, "delay_s": 1}])
    outcome = await sync(tp, office, connection["id"])
    assert outcome["status"] == "failed", outcome
    [failed] = [r for r in outcome["results"] if r["status"] == "failed"]
    assert failed["surface"] == "documents"
    async with tp.state.sessionmaker() as session:
        keys = set((await session.scalars(select(Document.s3_key).where(Document.firm_id == office.firm_id))).all())
    listed = await asyncio.to_thread(tp.state.storage.client.list_objects_v2, Bucket=tp.state.storage.bucket,
                                     Prefix=f"documents/{office.firm_id}/")
    assert {o["Key"] for o in listed.get("Contents", [])} == keys
    assert len(keys) == failed["created"] + sum(r["created"] for r in outcome["results"] if r is not failed)
