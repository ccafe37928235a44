"""Baselines for the billing benchmark, on the same stack (uvicorn, FastAPI, SQLAlchemy async, psycopg):

- POST /bare/webhooks/stripe only verifies the Stripe signature with the SDK (what the issue asks to compare
  the real endpoint with);
- POST /bare/schedules inserts a schedule and its four quarters in one transaction, without authentication,
  authorization, audit, validation, envelope or workflow.
"""

from __future__ import annotations

import os
import uuid
from datetime import date

import stripe
from fastapi import FastAPI, HTTPException, Request
from sqlalchemy import text

from domain.db import make_engine
from settings import Settings

SCHEDULE_SQL = text(
    "INSERT INTO estimated_payment_schedules (id, firm_id, client_id, return_id, tax_year, federal_annual, "
    "state_annual, payment_method, status) VALUES (:id, :firm, :client, :ret, :year, 20000, 6000, "
    "'equal_quarterly', 'active')")
QUARTER_SQL = text(
    "INSERT INTO estimated_payments (id, schedule_id, firm_id, client_id, return_id, quarter, due_date, "
    "federal_amount, state_amount, status, reminder_sent) VALUES (:id, :schedule, :firm, :client, :ret, :q, :due, "
    "5000, 1500, 'scheduled', false)")


def create_app() -> FastAPI:
    engine = make_engine(os.environ["DATABASE_URL"])
    secret = Settings().stripe_webhook_secret
    app = FastAPI()

    @app.get("/v1/health")
    async def health():
        return {"status": "healthy"}

    @app.post("/bare/webhooks/stripe")
    async def verify_only(request: Request):
        payload = await request.body()
        try:
            stripe.WebhookSignature.verify_header(payload.decode(), request.headers.get("stripe-signature"), secret,
                                                  300)
        except stripe.SignatureVerificationError:
            raise HTTPException(400) from None
        return {"received": True}

    @app.post("/bare/schedules")
    async def schedule(firm: uuid.UUID, client: uuid.UUID, ret: uuid.UUID, year: int):
        schedule_id = uuid.uuid4()
        dues = [date(year, 4, 15), date(year, 6, 15), date(year, 9, 15), date(year + 1, 1, 15)]
        async with engine.begin() as conn:
            await conn.execute(SCHEDULE_SQL, {"id": schedule_id, "firm": firm, "client": client, "ret": ret,
                                              "year": year})
            await conn.execute(QUARTER_SQL, [{"id": uuid.uuid4(), "schedule": schedule_id, "firm": firm,
                                              "client": client, "ret": ret, "q": q + 1, "due": due}
                                             for q, due in enumerate(dues)])
        return {"id": str(schedule_id)}

    return app
