"""The baseline for the clients list: the same SQL the API runs for `GET /v1/clients?limit=25&status=active
&sort=-created_at`, served by the same stack (uvicorn, FastAPI, SQLAlchemy async, psycopg) but without
authentication, authorization, audit, validation or envelope."""

from __future__ import annotations

import os
import time
import uuid

from fastapi import FastAPI
from sqlalchemy import text

from domain.db import make_engine

WHERE = "WHERE firm_id = :firm AND deleted_at IS NULL AND status = 'active'"
# The API's statements (domain/listing.py): the page with its bounded count (exact up to 10,000 rows) in one,
# then past 10,000 the planner's estimate, which the API keeps a minute per statement and values: so does this.
PAGE_SQL = text(
    "SELECT id, account_number, client_type, name, email, phone, status, assigned_preparer_id, created_at, "
    f"updated_at, (SELECT count(*) FROM (SELECT id FROM clients {WHERE} LIMIT 10001) AS bounded) AS total "
    f"FROM clients {WHERE} ORDER BY created_at DESC, id DESC LIMIT 26"
)
ESTIMATE_SQL = text(f"EXPLAIN (FORMAT JSON) SELECT * FROM clients {WHERE}")
ESTIMATE_TTL_S = 60.0


def create_app() -> FastAPI:
    engine = make_engine(os.environ["DATABASE_URL"])
    app = FastAPI()
    estimates: dict[uuid.UUID, tuple[float, int]] = {}

    @app.get("/v1/health")
    async def health():
        return {"status": "healthy"}

    @app.get("/bare/clients")
    async def bare_clients(firm: uuid.UUID):
        async with engine.connect() as conn:
            rows = (await conn.execute(PAGE_SQL, {"firm": firm})).mappings().all()
            total = rows[0]["total"] if rows else 0
            if total > 10_000:
                expires, estimate = estimates.get(firm, (0.0, 0))
                if expires < time.monotonic():
                    plan = (await conn.execute(ESTIMATE_SQL, {"firm": firm})).scalar_one()
                    estimate = plan[0]["Plan"]["Plan Rows"]
                    estimates[firm] = (time.monotonic() + ESTIMATE_TTL_S, estimate)
                total = max(total, estimate)
        return {"rows": [{k: v for k, v in r.items() if k != "total"} for r in rows[:25]], "total": total}

    return app
