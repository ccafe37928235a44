"""The baseline for the clients list: the same SQL the API runs for `GET /v1/clients?limit=25&status=active
&sort=-created_at`, served by the same stack (uvicorn, FastAPI, SQLAlchemy async, psycopg) but without
authentication, authorization, audit, validation or envelope."""

from __future__ import annotations

import os
import uuid

from fastapi import FastAPI
from sqlalchemy import text

from domain.db import make_engine

WHERE = "WHERE firm_id = :firm AND deleted_at IS NULL AND status = 'active'"
# The API's count: exact up to 10,000 rows, then the planner's estimate (domain/listing.py).
COUNT_SQL = text(f"SELECT count(*) FROM (SELECT id FROM clients {WHERE} LIMIT 10001) AS bounded")
ESTIMATE_SQL = text(f"EXPLAIN (FORMAT JSON) SELECT * FROM clients {WHERE}")
PAGE_SQL = text(
    "SELECT id, account_number, client_type, name, email, phone, status, assigned_preparer_id, created_at, "
    f"updated_at FROM clients {WHERE} ORDER BY created_at DESC, id DESC LIMIT 26"
)


def create_app() -> FastAPI:
    engine = make_engine(os.environ["DATABASE_URL"])
    app = FastAPI()

    @app.get("/v1/health")
    async def health():
        return {"status": "healthy"}

    @app.get("/bare/clients")
    async def bare_clients(firm: uuid.UUID):
        async with engine.connect() as conn:
            total = (await conn.execute(COUNT_SQL, {"firm": firm})).scalar_one()
            if total > 10_000:
                plan = (await conn.execute(ESTIMATE_SQL, {"firm": firm})).scalar_one()
                total = plan[0]["Plan"]["Plan Rows"]
            rows = (await conn.execute(PAGE_SQL, {"firm": firm})).mappings().all()
        return {"rows": [dict(r) for r in rows[:25]], "total": total}

    return app
