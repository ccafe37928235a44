"""Every refused transition: unknown action, wrong role, wrong status, failed guard, concurrent requests,
and the service identity that no staff or client token can stand in for."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import func, select

from domain.errors import BusinessRuleViolation, Conflict, Forbidden, ValidationFailed
from domain.roles import Role
from domain.tax_return import state_machine as sm
from domain.lifecycle.models import LifecycleHistory
from tests.support import api_without_temporal
from tests.tax_return.conftest import assert_problem, create_return, transition, wait_for_status

ROLES = [Role.ADMIN, Role.EA_CPA, Role.REVIEWER, Role.PREPARER, Role.CLIENT, Role.SYSTEM]
FACTS_OK = sm.GuardFacts(actor_id=None, assigned_preparer_id=None, pending_questions=0)


def test_state_machine_answers_every_combination():
    """The whole table, every action × status × role: exactly the listed ones pass, others by the rule order."""
    for transition_, status, role in itertools.product(sm.TRANSITIONS, sm.Status, ROLES):
        allowed_role, allowed_from = role in transition_.roles, status in transition_.sources
        try:
            sm.check(transition_.action, status.value, role, sm.GuardFacts(None, None, pending_questions=1
                     if transition_.action == "request_client_info" else 0))
            outcome = "ok"
        except Forbidden:
            outcome = "403"
        except Conflict:
            outcome = "409"
        assert outcome == ("403" if not allowed_role else "409" if not allowed_from else "ok"), \
            (transition_.action, status, role)
    with pytest.raises(ValidationFailed):
        sm.check("file_it_now", "in_prep", Role.PREPARER)
    with pytest.raises(BusinessRuleViolation):
        sm.check("submit_for_review", "in_prep", Role.PREPARER, sm.GuardFacts(None, None, pending_questions=2))
    every_status = {t.target for t in sm.TRANSITIONS} | {s for t in sm.TRANSITIONS for s in t.sources}
    assert every_status == set(sm.Status), "every status is reachable or left by some transition"
    assert {"documents_received", "documents_complete"} <= sm.SYSTEM_ACTIONS  # the documents contract


async def test_refusals_through_the_api_record_nothing(tp, office):
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    await transition(tp, h["preparer"], rid, "mark_ready_for_prep")
    await transition(tp, h["preparer"], rid, "start_prep")
    await wait_for_status(tp, h["preparer"], rid, "in_prep")
    url = f"/v1/returns/{rid}/workflow/transition"

    # From in_prep, every action of the table either is refused with the rule's status or is allowed.
    role_headers = {Role.ADMIN: h["admin"], Role.EA_CPA: h["ea_cpa"], Role.REVIEWER: h["reviewer"],
                    Role.PREPARER: h["preparer"], Role.SYSTEM: h["system"]}
    for t in sm.TRANSITIONS:
        if "in_prep" in t.sources:
            continue
        role = sorted(t.roles)[0]
        assert_problem(await tp.http.post(url, headers=role_headers[role], json={"action": t.action}), 409, "conflict")
        other = next(r for r in role_headers if r not in t.roles)
        assert_problem(await tp.http.post(url, headers=role_headers[other], json={"action": t.action}), 403)
    # Allowed from in_prep but refused: the wrong role, the guard, the client, an unknown action.
    assert_problem(await tp.http.post(url, headers=h["reviewer"], json={"action": "submit_for_review"}), 403)
    assert_problem(await tp.http.post(url, headers=h["admin"], json={"action": "submit_for_review"}), 403)
    assert_problem(await tp.http.post(url, headers=h["client"], json={"action": "submit_for_review"}), 403)
    assert_problem(await tp.http.post(url, headers=h["preparer"], json={"action": "request_client_info"}), 422)
    assert_problem(await tp.http.post(url, headers=h["preparer"], json={"action": "escalate"}), 403)
    bad = assert_problem(await tp.http.post(url, headers=h["preparer"], json={"action": "file_it_now"}), 400)
    assert bad["errors"][0]["field"] == "action"
    assert_problem(await tp.http.post(url, headers=h["preparer"], json={"action": "start_prep", "x": 1}), 400)
    assert_problem(await tp.http.post(url, headers=h["preparer"], json={}), 400)

    async with tp.state.sessionmaker() as session:
        rows = (await session.execute(select(func.count()).select_from(LifecycleHistory).where(
            LifecycleHistory.entity_id == rid))).scalar_one()
    assert rows == 3  # mark_ready_for_prep, start_prep, complete_ai_analysis
    assert (await tp.http.get(f"/v1/returns/{rid}", headers=h["admin"])).json()["data"]["status"] == "in_prep"


async def test_concurrent_transitions_have_one_outcome(tp, office):
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    await transition(tp, h["preparer"], rid, "mark_ready_for_prep")
    url = f"/v1/returns/{rid}/workflow/transition"
    responses = await asyncio.gather(*(tp.http.post(url, headers=h["preparer"], json={"action": "start_prep"})
                                       for _ in range(5)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 409, 409, 409, 409], [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert_problem(r, 409, "conflict")
    async with tp.state.sessionmaker() as session:
        rows = (await session.execute(select(func.count()).select_from(LifecycleHistory).where(
            LifecycleHistory.entity_id == rid, LifecycleHistory.action == "start_prep"))).scalar_one()
    assert rows == 1


async def test_system_actions_need_the_service_identity(tp, office):
    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    url = f"/v1/returns/{rid}/workflow/transition"
    for role in ("admin", "ea_cpa", "reviewer", "preparer", "client"):
        assert_problem(await tp.http.post(url, headers=h[role], json={"action": "documents_received"}), 403)
    wrong = {"Authorization": f"Bearer {tp.settings.service_token}x"}
    assert_problem(await tp.http.post(url, headers=wrong, json={"action": "documents_received"}), 401)
    # The service identity acts on returns' workflows only, and is refused everything else.
    assert_problem(await tp.http.get("/v1/clients", headers=h["system"]), 403)
    assert_problem(await tp.http.get("/v1/returns", headers=h["system"]), 403)
    assert_problem(await tp.http.post(url, headers=h["system"], json={"action": "mark_ready_for_prep"}), 403)
    await transition(tp, h["system"], rid, "documents_received")
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["admin"])).json()["data"]
    assert state["history"][-1]["actor_role"] == "system" and state["history"][-1]["transitioned_by"] is None


async def test_system_event_signals_apply_only_when_allowed(tp, office):
    """The documents capability's contract: documents_received / documents_complete by Signal."""
    from orchestration.tax_return import TaxReturnSystemEvent, send_system_event

    h = office.headers
    rid = (await create_return(tp, h["preparer"], office.client["id"]))["id"]
    event = lambda action: TaxReturnSystemEvent(action=action, source="document")  # noqa: E731
    # Not allowed from intake (ignored, no row), then the two documents events in order.
    for action in ("documents_complete", "approve", "no_such_action", "documents_received", "documents_received",
                   "documents_complete"):
        assert await send_system_event(tp.temporal, rid, event(action))
    await wait_for_status(tp, h["preparer"], rid, "ready_for_prep")
    state = (await tp.http.get(f"/v1/returns/{rid}/workflow/state", headers=h["admin"])).json()["data"]
    assert [r["action"] for r in state["history"]] == ["documents_received", "documents_complete"]


async def test_a_transition_while_temporal_is_unreachable_is_a_503_that_changes_nothing(tp, office):
    created = await create_return(tp, office.headers["preparer"], office.client["id"], tax_year=2019)
    async with api_without_temporal(tp) as cut_off:
        response = await cut_off.post(f"/v1/returns/{created['id']}/workflow/transition",
                                      headers=office.headers["preparer"], json={"action": "mark_ready_for_prep"})
    assert assert_problem(response, 503, "unavailable")["detail"].endswith("retry shortly")
    assert response.headers["retry-after"] == "5"
    assert (await tp.http.get(f"/v1/returns/{created['id']}", headers=office.headers["preparer"])
            ).json()["data"]["status"] == created["status"]
    async with tp.state.sessionmaker() as session:
        rows = await session.scalar(select(func.count()).select_from(LifecycleHistory)
                                    .where(LifecycleHistory.entity_id == created["id"]))
    assert rows == 0
