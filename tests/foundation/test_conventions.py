"""API conventions every endpoint shares (spec §3): envelopes, pagination, filters, sort, sparse fields,
RFC 7807 errors, X-Idempotency-Key, rate limits and the body-size cap."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from datetime import datetime

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.middleware import RequestContextMiddleware
from api.problems import install_problem_handlers
from tests.foundation.conftest import assert_problem, sql
from tests.support import make_settings

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


async def _create_many(tp, headers, count: int, **fields) -> list[dict]:
    return list(await asyncio.gather(*(tp.new_client(headers, **fields) for _ in range(count))))


async def _walk(tp, headers, params: dict) -> list[dict]:
    """Every item of a list, following cursors; checks the pagination block on the way."""
    items, cursor, total = [], None, None
    for _ in range(100):
        page_params = {**params, "cursor": cursor} if cursor else params
        response = await tp.http.get("/v1/clients", headers=headers, params=page_params)
        assert response.status_code == 200, response.text
        body = response.json()
        page = body["pagination"]
        total = page["total_count"] if total is None else total
        assert page["total_count"] == total  # the count of the first page is carried along
        items.extend(body["data"])
        if not page["has_more"]:
            assert page["cursor"] is None
            return items
        assert page["cursor"]
        cursor = page["cursor"]
    raise AssertionError("pagination did not end")


# ---- envelope ------------------------------------------------------------------------------------------------

async def test_envelope_carries_request_id_correlation_id_and_timestamp(tp, admin):
    created = await tp.new_client(admin)
    response = await tp.http.get(f"/v1/clients/{created['id']}", headers={**admin, "X-Correlation-ID": "trace-42"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"data", "meta"}
    assert body["data"]["id"] == created["id"]
    meta = body["meta"]
    assert meta["request_id"].startswith("req-") and meta["request_id"] == response.headers["x-request-id"]
    assert meta["correlation_id"] == "trace-42" == response.headers["x-correlation-id"]
    assert ISO_Z.match(meta["timestamp"])

    listed = (await tp.http.get("/v1/clients", headers=admin)).json()
    assert set(listed) == {"data", "meta", "pagination"}
    assert {"cursor", "has_more", "total_count"} <= set(listed["pagination"])
    assert listed["meta"]["correlation_id"] is None  # nothing sent, nothing invented


async def test_an_unexpected_exception_is_a_500_problem_that_does_not_escape_to_the_server(caplog):
    """The app's own middleware answers it: re-raised to uvicorn, it would be logged twice and the keep-alive
    connection closed, failing the caller's next request. Built on a bare app: no endpoint fails on purpose."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/bug")
    async def bug():
        raise RuntimeError("a bug")

    app.add_middleware(RequestContextMiddleware, max_body=1024)
    # raise_app_exceptions (the default) would raise here if the exception escaped the app.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        response = await http.get("/bug", headers={"X-Correlation-ID": "trace-1"})
    body = assert_problem(response, 500)
    assert body["type"].endswith("/internal") and "a bug" not in response.text
    # Logged once, with the request id the caller is told to quote.
    [logged] = [r for r in caplog.records if r.name == "taxpractice.api"]
    assert body["meta"]["request_id"] in logged.getMessage() and logged.exc_info
    assert response.headers["x-request-id"] == body["meta"]["request_id"]
    assert response.headers["x-correlation-id"] == "trace-1"


async def test_each_request_gets_its_own_request_id(tp, admin):
    first = await tp.http.get("/v1/clients", headers=admin)
    second = await tp.http.get("/v1/clients", headers=admin)
    assert first.json()["meta"]["request_id"] != second.json()["meta"]["request_id"]


async def test_correlation_id_cannot_inject_header_or_log_lines(tp, admin):
    response = await tp.http.get("/v1/clients", headers={**admin, "X-Correlation-ID": "abc\tdef ghi"})
    assert response.status_code == 200
    assert response.json()["meta"]["correlation_id"] == "abcdefghi"
    too_long = await tp.http.get("/v1/clients", headers={**admin, "X-Correlation-ID": "x" * 500})
    assert len(too_long.json()["meta"]["correlation_id"]) == 200


# ---- pagination ----------------------------------------------------------------------------------------------

async def test_pagination_default_limit_cursor_and_total(tp, admin):
    created = await _create_many(tp, admin, 30)
    first = (await tp.http.get("/v1/clients", headers=admin)).json()
    assert len(first["data"]) == 25
    assert first["pagination"]["has_more"] is True and first["pagination"]["total_count"] == 30
    second = (await tp.http.get("/v1/clients", headers=admin,
                                params={"cursor": first["pagination"]["cursor"]})).json()
    assert len(second["data"]) == 5
    pagination = second["pagination"]
    assert (pagination["cursor"], pagination["has_more"], pagination["total_count"]) == (None, False, 30)
    seen = [c["id"] for c in first["data"] + second["data"]]
    assert sorted(seen) == sorted(c["id"] for c in created)


async def test_keyset_pages_neither_skip_nor_repeat_when_rows_arrive_between_pages(tp, admin):
    before = await _create_many(tp, admin, 12)
    first = (await tp.http.get("/v1/clients", headers=admin, params={"limit": 5})).json()
    late = await tp.new_client(admin)  # created after page one: sorts last by created_at
    rest = await _walk(tp, admin, {"limit": 5, "cursor": first["pagination"]["cursor"]})
    ids = [c["id"] for c in first["data"] + rest]
    assert len(ids) == len(set(ids)) == 13
    assert set(ids) == {c["id"] for c in before} | {late["id"]}
    assert ids[-1] == late["id"]


async def test_sort_ties_are_broken_stably_across_pages(tp, admin):
    for name in ("Carol", "Alice", "Bob"):
        await _create_many(tp, admin, 5, name=name)
    ascending = await _walk(tp, admin, {"sort": "name", "limit": 4})
    assert [c["name"] for c in ascending] == ["Alice"] * 5 + ["Bob"] * 5 + ["Carol"] * 5
    assert len({c["id"] for c in ascending}) == 15
    descending = await _walk(tp, admin, {"sort": "-name", "limit": 4})
    assert [c["id"] for c in descending] == [c["id"] for c in reversed(ascending)]


async def test_limit_bounds(tp, admin):
    await _create_many(tp, admin, 3)
    ok = await tp.http.get("/v1/clients", headers=admin, params={"limit": 100})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 3
    for bad in ("0", "101", "-1", "abc", "2.5", "", "²", "①"):  # "²".isdigit(), yet int("²") fails
        body = assert_problem(await tp.http.get("/v1/clients", headers=admin, params={"limit": bad}), 400,
                              "validation")
        assert body["errors"][0]["field"] == "limit"


async def test_bad_cursors_are_400(tp, admin):
    await _create_many(tp, admin, 3)
    page = (await tp.http.get("/v1/clients", headers=admin, params={"limit": 1})).json()
    forged = base64.urlsafe_b64encode(json.dumps({"s": "created_at", "v": "yesterday", "id": "x", "t": 1})
                                      .encode()).decode()
    for cursor in ("garbage", "!!!", "e30", forged, base64.urlsafe_b64encode(b"\xff\xfe").decode()):
        body = assert_problem(await tp.http.get("/v1/clients", headers=admin, params={"cursor": cursor}), 400)
        assert body["errors"][0]["field"] == "cursor"
    # A cursor comes back from the caller: its values are checked like any input, never passed to the query.
    def forged_cursor(sort: str, value, id_) -> str:
        return base64.urlsafe_b64encode(json.dumps({"s": sort, "v": value, "id": id_, "t": 1}).encode()).decode()
    some_id = str(uuid.uuid4())
    for path, sort, value, id_ in (
            ("/v1/clients", "created_at", "2024-01-01T00:00:00+00:00", 1),   # an id that is not a string
            ("/v1/clients", "created_at", "2024-01-01T00:00:00+00:00", [1]),
            ("/v1/clients", "name", "a\u0000", some_id),                    # NUL
            ("/v1/clients", "name", "\ud800", some_id),                     # a lone surrogate
            ("/v1/returns", "tax_year", 10**20, some_id),                   # past int4
            ("/v1/returns", "tax_year", "2024", some_id)):                  # a string for an integer
        response = await tp.http.get(path, headers=admin, params={"cursor": forged_cursor(sort, value, id_),
                                                                  "sort": sort})
        assert assert_problem(response, 400)["errors"][0]["field"] == "cursor", (path, sort, value)
    # A cursor is bound to the sort order it was issued for.
    other_sort = await tp.http.get("/v1/clients", headers=admin,
                                   params={"cursor": page["pagination"]["cursor"], "sort": "name"})
    assert_problem(other_sort, 400)


# ---- filters, sort, sparse fields ----------------------------------------------------------------------------

async def test_filters_eq_in_gte_lte(tp, admin):
    active = await _create_many(tp, admin, 3)
    inactive = await _create_many(tp, admin, 2, status="inactive")
    business = await tp.new_client(admin, client_type="business", status="closed")

    async def ids(params):
        return {c["id"] for c in await _walk(tp, admin, params)}

    assert await ids({"status": "inactive"}) == {c["id"] for c in inactive}
    assert await ids({"status__in": "inactive,closed"}) == {c["id"] for c in inactive} | {business["id"]}
    assert await ids({"client_type": "business"}) == {business["id"]}
    everyone = active + inactive + [business]
    pivot = sorted(c["created_at"] for c in everyone)[2]
    assert await ids({"created_at__gte": pivot}) == {c["id"] for c in everyone if c["created_at"] >= pivot}
    assert await ids({"created_at__lte": pivot}) == {c["id"] for c in everyone if c["created_at"] <= pivot}
    assert await ids({"status": "active", "created_at__gte": pivot}) == {
        c["id"] for c in active if c["created_at"] >= pivot}
    assert await ids({"created_at__gte": "2000-01-01", "created_at__lte": "2999-12-31"}) == {  # dates, as §3.6
        c["id"] for c in everyone}


async def test_bad_filters_are_400_not_empty_lists(tp, admin):
    cases = [
        {"status": "bogus"},                    # not one of the choices
        {"status__in": "active,bogus"},
        {"status__in": ","},                    # no value at all
        {"created_at__gte": "last tuesday"},   # not a datetime
        {"assigned_preparer_id": "not-a-uuid"},
        {"status__gte": "active"},              # operator not offered for this field
        {"nickname": "bob"},                    # not a field
        {"sort": "ssn"},                        # not sortable
        {"fields": "id,ssn"},                   # not an output field
        {"fields": ""},
        {"account_number": "C-2024\x00"},      # NUL: Postgres text cannot hold it
        {"search": "smith\x00"},
    ]
    for params in cases:
        assert_problem(await tp.http.get("/v1/clients", headers=admin, params=params), 400, "validation")
    # Numbers the columns cannot hold, or that are not numbers, are 400s too, not failed queries.
    for path, params in (("/v1/returns", {"tax_year": "99999999999999999999"}),
                         ("/v1/returns", {"tax_year__gte": "-3000000000"}),
                         ("/v1/returns", {"tax_year": "2_024"}), ("/v1/returns", {"tax_year": "٢٠٢٤"}),
                         ("/v1/invoices", {"total__gte": "1e999999"}), ("/v1/invoices", {"total": "NaN"}),
                         ("/v1/invoices", {"total__lte": "Infinity"})):
        assert_problem(await tp.http.get(path, headers=admin, params=params), 400, "validation")
    assert (await tp.http.get("/v1/invoices", headers=admin, params={"total__gte": "1e20"})).status_code == 200
    duplicated = await tp.http.get("/v1/clients?status=active&status=inactive", headers=admin)
    assert_problem(duplicated, 400, "validation")


async def test_sort_descending_by_created_at(tp, admin):
    created = await _create_many(tp, admin, 4)
    items = await _walk(tp, admin, {"sort": "-created_at", "limit": 3})
    stamps = [datetime.fromisoformat(c["created_at"].replace("Z", "+00:00")) for c in items]
    assert stamps == sorted(stamps, reverse=True)
    assert {c["id"] for c in items} == {c["id"] for c in created}


async def test_sparse_fields(tp, admin):
    await _create_many(tp, admin, 2)
    response = await tp.http.get("/v1/clients", headers=admin, params={"fields": "name,account_number"})
    assert response.status_code == 200
    for item in response.json()["data"]:
        assert set(item) == {"id", "name", "account_number"}  # the id always comes along


# ---- errors --------------------------------------------------------------------------------------------------

async def test_unknown_route_and_unknown_object_are_problem_404(tp, admin):
    assert_problem(await tp.http.get("/v1/no-such-thing", headers=admin), 404, "not_found")
    assert_problem(await tp.http.get(f"/v1/clients/{uuid.uuid4()}", headers=admin), 404, "not_found")


async def test_wrong_method_is_problem_405_with_allow(tp, admin):
    response = await tp.http.delete("/v1/clients", headers=admin)
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"] and "POST" in response.headers["allow"]
    assert_problem(await tp.http.put("/v1/admin/config", headers=admin, json={}), 405)


async def test_missing_or_malformed_authorization_is_problem_401(tp):
    assert_problem(await tp.http.get("/v1/clients"), 401, "unauthorized")
    for value in ("Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Bearer not.a.jwt", "Token abc"):
        assert_problem(await tp.http.get("/v1/clients", headers={"Authorization": value}), 401, "unauthorized")


async def test_path_ids_that_are_not_uuids_are_400(tp, admin):
    body = assert_problem(await tp.http.get("/v1/clients/12345", headers=admin), 400, "validation")
    assert body["errors"][0]["field"] == "client_id"


async def test_bad_bodies_are_clear_400s_and_create_nothing(tp, admin):
    cases = [
        (b"{not json", "malformed_json", None),
        (b'{"client_type": "individual", "name": ', "malformed_json", None),
        (b"[1, 2, 3]", "validation", None),
        (b"null", "validation", None),
        (b'"a string"', "validation", None),
        (json.dumps({"client_type": "individual"}).encode(), "validation", ("name", "required")),
        (json.dumps({"client_type": "robot", "name": "X"}).encode(), "validation", ("client_type", None)),
        (json.dumps({"client_type": "individual", "name": 42}).encode(), "validation", ("name", None)),
        (json.dumps({"client_type": "individual", "name": "X", "email": "nope"}).encode(), "validation",
         ("email", None)),
        (json.dumps({"client_type": "individual", "name": "X", "is_vip": True}).encode(), "validation",
         ("is_vip", "unknown_field")),
        (json.dumps({"client_type": "individual", "name": "X", "address": {"street1": "1 Main", "city": "A",
                     "state": "CA", "zip": "94102", "country": "US"}}).encode(), "validation",
         ("address.country", "unknown_field")),
        (json.dumps({"client_type": "individual", "name": "X", "date_of_birth": "1980-02-30"}).encode(),
         "validation", ("date_of_birth", None)),
        (json.dumps({"client_type": "individual", "name": "X" * 201}).encode(), "validation", ("name", "too_long")),
        (json.dumps({"client_type": "individual", "name": "X", "assigned_preparer_id": "bob"}).encode(),
         "validation", ("assigned_preparer_id", None)),
        # Valid JSON that Postgres text cannot hold.
        (json.dumps({"client_type": "individual", "name": "a\u0000b"}).encode(), "validation", ("name", None)),
        (json.dumps({"client_type": "individual", "name": "X", "address": {"street1": "\u0000", "city": "A",
                     "state": "CA", "zip": "94102"}}).encode(), "validation", ("address.street1", None)),
        (b'{"client_type": "individual", "name": "\\ud800"}', "validation", ("name", None)),
    ]
    for raw, code, expected_error in cases:
        response = await tp.http.post("/v1/clients", content=raw,
                                      headers={**admin, "Content-Type": "application/json"})
        body = assert_problem(response, 400, code)
        if expected_error:
            field_name, error_code = expected_error
            matching = [e for e in body["errors"] if e["field"] == field_name]
            assert matching, body
            if error_code:
                assert matching[0]["code"] == error_code, body
    listed = (await tp.http.get("/v1/clients", headers=admin)).json()
    assert listed["pagination"]["total_count"] == 0


async def test_non_json_body_is_refused(tp, admin):
    response = await tp.http.post("/v1/clients", content=b"client_type=individual&name=X",
                                  headers={**admin, "Content-Type": "application/x-www-form-urlencoded"})
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (await tp.http.get("/v1/clients", headers=admin)).json()["pagination"]["total_count"] == 0


# ---- body size -----------------------------------------------------------------------------------------------

async def test_oversized_bodies_are_413_and_create_nothing(tp, admin):
    limit = tp.settings.max_request_body_bytes
    big = json.dumps({"client_type": "individual", "name": "X", "phone": "1" * limit}).encode()
    declared = await tp.http.post("/v1/clients", content=big, headers={**admin, "Content-Type": "application/json"})
    assert_problem(declared, 413, "payload_too_large")

    async def chunks():  # no Content-Length: the cap must hold while the body streams in
        for start in range(0, len(big), 64 * 1024):
            yield big[start:start + 64 * 1024]

    streamed = await tp.http.post("/v1/clients", content=chunks(),
                                  headers={**admin, "Content-Type": "application/json"})
    assert_problem(streamed, 413, "payload_too_large")
    assert (await tp.http.get("/v1/clients", headers=admin)).json()["pagination"]["total_count"] == 0


# ---- idempotency ---------------------------------------------------------------------------------------------

async def _count(tp, headers) -> int:
    return (await tp.http.get("/v1/clients", headers=headers)).json()["pagination"]["total_count"]


async def test_same_key_same_body_replays_the_first_response(tp, admin):
    body = {"client_type": "individual", "name": "Replay Me"}
    headers = {**admin, "X-Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await tp.http.post("/v1/clients", json=body, headers=headers)
    again = await tp.http.post("/v1/clients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()  # the same client, the same account number, the same meta
    assert again.headers["content-type"].startswith("application/json")
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await _count(tp, admin) == 1


async def test_same_key_other_body_is_422_and_changes_nothing(tp, admin):
    headers = {**admin, "X-Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "One"}, headers=headers)
    assert first.status_code == 201
    other = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Two"}, headers=headers)
    assert_problem(other, 422, "idempotency_key_reuse")
    elsewhere = await tp.http.post(f"/v1/clients/{first.json()['data']['id']}/contacts", json={"name": "Jane"},
                                   headers=headers)
    assert_problem(elsewhere, 422, "idempotency_key_reuse")
    assert await _count(tp, admin) == 1


async def test_keys_are_scoped_to_the_caller(tp, firm, admin):
    _, colleague = await tp.staff_session(firm, "ea_cpa")
    key = f"key-{uuid.uuid4()}"
    body = {"client_type": "individual", "name": "Shared key"}
    mine = await tp.http.post("/v1/clients", json=body, headers={**admin, "X-Idempotency-Key": key})
    theirs = await tp.http.post("/v1/clients", json=body, headers={**colleague, "X-Idempotency-Key": key})
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["data"]["id"] != theirs.json()["data"]["id"]
    assert await _count(tp, admin) == 2


async def test_a_refused_request_does_not_burn_its_key(tp, admin):
    """Stripe's rule: nothing is saved for a request that failed validation, so the corrected retry runs."""
    headers = {**admin, "X-Idempotency-Key": f"key-{uuid.uuid4()}"}
    bad = await tp.http.post("/v1/clients", json={"client_type": "individual"}, headers=headers)
    assert_problem(bad, 400, "validation")
    fixed = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Fixed"}, headers=headers)
    assert fixed.status_code == 201, fixed.text
    replay = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Fixed"}, headers=headers)
    assert replay.json() == fixed.json()
    assert await _count(tp, admin) == 1


async def test_concurrent_duplicates_run_once_and_the_others_wait_or_replay(tp, admin):
    body = {"client_type": "individual", "name": "Concurrent"}
    saw_in_flight = False
    for attempt in range(5):
        headers = {**admin, "X-Idempotency-Key": f"key-{uuid.uuid4()}"}
        responses = await asyncio.gather(*(tp.http.post("/v1/clients", json=body, headers=headers)
                                           for _ in range(6)))
        created = [r for r in responses if r.status_code == 201]
        assert created and len({r.json()["data"]["id"] for r in created}) == 1
        for response in responses:
            if response.status_code != 201:
                assert_problem(response, 409, "idempotency_in_progress")
                saw_in_flight = True
        assert await _count(tp, admin) == attempt + 1
        if saw_in_flight:
            break
    assert saw_in_flight, "no duplicate arrived while the first was in flight"


async def test_keys_are_kept_24_hours(tp, admin):
    key = f"key-{uuid.uuid4()}"
    headers = {**admin, "X-Idempotency-Key": key}
    first = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Day one"}, headers=headers)

    async def age(hours):  # test-data setup: the key was used `hours` ago
        await sql(tp, "UPDATE idempotency_keys SET created_at = now() - make_interval(hours => :h) WHERE key = :k",
                  h=hours, k=key)

    await age(23)
    replay = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Day one"}, headers=headers)
    assert replay.json()["data"]["id"] == first.json()["data"]["id"]
    await age(25)
    fresh = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "Day two"}, headers=headers)
    assert fresh.status_code == 201 and fresh.json()["data"]["id"] != first.json()["data"]["id"]
    assert await _count(tp, admin) == 2


async def test_invalid_idempotency_keys_are_400(tp, admin):
    for key in ("x" * 256, "tab\there"):
        response = await tp.http.post("/v1/clients", json={"client_type": "individual", "name": "K"},
                                      headers={**admin, "X-Idempotency-Key": key})
        assert_problem(response, 400, "validation")
    assert await _count(tp, admin) == 0


# ---- rate limits ---------------------------------------------------------------------------------------------

async def test_responses_carry_rate_limit_headers(tp, admin):
    response = await tp.http.get("/v1/clients", headers=admin)
    assert int(response.headers["x-ratelimit-limit"]) == tp.settings.rate_limit_standard
    assert 0 <= int(response.headers["x-ratelimit-remaining"]) < tp.settings.rate_limit_standard
    assert int(response.headers["x-ratelimit-reset"]) > datetime.now().timestamp() - 1


async def test_rate_limits_answer_429_problem_with_retry_after(tp, stack, admin):
    # A second app on the same stack and signing key, with small limits. Windows are fixed and aligned to the
    # clock; long ones keep a window edge from falling inside the test.
    settings = make_settings(stack.env, tp.settings.data_dir, rate_limit_auth=3, rate_limit_standard=4,
                             rate_limit_auth_window_s=1_000_000, rate_limit_standard_window_s=1_000_000)
    app = create_app(settings)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            login = {"email": "nobody@example.com", "password": "wrong password"}
            remaining = []
            for _ in range(3):
                response = await http.post("/v1/auth/login", json=login)
                assert_problem(response, 401)
                assert response.headers["x-ratelimit-limit"] == "3"
                remaining.append(int(response.headers["x-ratelimit-remaining"]))
            assert remaining == [2, 1, 0]
            limited = await http.post("/v1/auth/login", json=login)
            body = assert_problem(limited, 429, "rate_limited")
            assert "retry" in body["detail"].lower()
            assert 1 <= int(limited.headers["retry-after"]) <= settings.rate_limit_auth_window_s
            assert limited.headers["x-ratelimit-remaining"] == "0"
            assert int(limited.headers["x-ratelimit-reset"]) >= int(datetime.now().timestamp())
            # The magic link shares the auth budget; health checks are never limited.
            assert_problem(await http.post("/v1/portal/auth/magic-link", json={"email": "a@example.com"}), 429)
            assert (await http.get("/v1/health")).status_code == 200

            # Standard endpoints: counted per token, so another caller still gets through.
            statuses = [(await http.get("/v1/clients", headers=admin)).status_code for _ in range(5)]
            assert statuses == [200, 200, 200, 200, 429]
            _, other = await tp.staff_session((await tp.new_firm()), "admin")
            assert (await http.get("/v1/clients", headers=other)).status_code == 200
    finally:
        await app.state.services.engine.dispose()


async def test_a_request_that_finds_no_free_database_connection_is_answered_503_not_500(tp):
    """A burst that takes every pooled connection: the next request waits DB_POOL_TIMEOUT_S, then 503."""
    from api.state import build_state

    _, admin = await tp.staff(await tp.new_firm(), "admin")
    narrow = tp.settings.model_copy(update={"db_pool_size": 1, "db_pool_timeout_s": 0.2})
    state = build_state(narrow)
    held = [await state.engine.connect()]  # the pool's one connection (no overflow: domain/db.make_engine)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(narrow, state)),
                                     base_url="http://testserver") as http:
            response = await http.get("/v1/clients", headers=admin)
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Retry-After" in response.headers
    finally:
        for connection in held:
            await connection.close()
        await state.engine.dispose()
