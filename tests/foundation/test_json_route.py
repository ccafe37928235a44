"""Every v1 route answers through api/json_route.JSONRoute, and what it writes is what FastAPI wrote."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal

import httpx
from fastapi import APIRouter, BackgroundTasks, FastAPI
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from api.app import ROUTERS
from api.json_route import EncodedJSONResponse, JSONRoute


def test_every_v1_router_and_route_uses_the_json_route():
    for router in ROUTERS:
        assert router.route_class is JSONRoute, router.tags
        assert all(isinstance(route, JSONRoute) for route in router.routes), router.tags


def test_the_bytes_are_fastapis_for_any_content():
    key = uuid.uuid4()
    for content in (
        {"data": [{"name": "Zoë Müller", "n": 1, "ok": True, "none": None}], "meta": {"x": 1.5}},
        {"id": key, "at": datetime(2026, 12, 4, tzinfo=timezone.utc), "amount": Decimal("450.10"), "set": {1}},
        {key: "a UUID key, which json.dumps does not take"},
        [1, "two", {"three": [3]}],
    ):
        assert EncodedJSONResponse(content).body == JSONResponse(jsonable_encoder(content)).body


async def test_a_route_keeps_its_status_its_background_task_and_a_response_it_returns_itself():
    ran = []
    router = APIRouter(route_class=JSONRoute)

    @router.post("/made", status_code=201)
    async def made(name: str):
        """Its docstring is the operation's description."""
        return {"name": name}

    @router.get("/sync")
    def sync():
        return [1, 2]

    @router.delete("/gone", status_code=204)
    async def gone():
        return None

    @router.get("/own")
    async def own():
        return JSONResponse({"own": True}, status_code=202)

    @router.post("/later", status_code=202)
    async def later(background: BackgroundTasks):
        background.add_task(ran.append, "ran")
        return {"accepted": True}

    app = FastAPI()
    app.include_router(router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        made_answer = await http.post("/made", params={"name": "x"})
        assert (made_answer.status_code, made_answer.json()) == (201, {"name": "x"})
        assert made_answer.headers["content-type"] == "application/json"
        assert (await http.get("/sync")).json() == [1, 2]
        gone_answer = await http.delete("/gone")
        assert (gone_answer.status_code, gone_answer.content) == (204, b"")
        own_answer = await http.get("/own")
        assert (own_answer.status_code, own_answer.json()) == (202, {"own": True})
        assert (await http.post("/later")).status_code == 202
        assert (await http.post("/made")).status_code == 422  # the handler's own parameters, read through the wrapper
    assert ran == ["ran"]
    operation = app.openapi()["paths"]["/made"]["post"]
    assert operation["description"] == "Its docstring is the operation's description."
    assert [p["name"] for p in operation["parameters"]] == ["name"]
    assert json.loads(made_answer.content) == {"name": "x"}
