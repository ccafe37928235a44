"""The messages TaxReturnWorkflow exchanges (input, state, Update request and result, change signal).

A module of their own, imported by the workflow through `imports_passed_through()`: the workflow sandbox
re-executes the workflow's module for every workflow instance it creates (after a cache eviction, for a
replay), and building these pydantic classes there was most of the worker's CPU under load.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

from activities.tax_return import AnalyzeInput


class TaxReturnState(BaseModel):
    """Everything the workflow carries across continue-as-new."""

    return_id: uuid.UUID
    firm_id: uuid.UUID
    client_id: uuid.UUID
    tax_year: int
    return_type: str
    status: str
    status_entered_at: datetime
    assigned_preparer_id: uuid.UUID | None = None
    assigned_reviewer_id: uuid.UUID | None = None
    deadline: date
    stuck_since: datetime | None = None
    # "deadline/days_before" of reminders already sent or skipped.
    reminders_done: list[str] = []
    # Analyses requested through the API and not yet run.
    pending_analyses: list[AnalyzeInput] = []
    # Set when start_prep enters ai_analysis: the workflow runs the analysis and applies its outcome.
    auto_analysis_due: bool = False
    deleted: bool = False


class TaxReturnWorkflowInput(BaseModel):
    state: TaxReturnState
    # Continue-as-new after this many history events (HISTORY_EVENT_LIMIT unless set, e.g. by a test).
    history_event_limit: int | None = None


class TransitionRequest(BaseModel):
    action: str
    notes: str | None = None
    actor_id: uuid.UUID | None = None
    actor_role: str
    source: str = "api"
    # Guard facts the API read from Postgres in the same request (pending questions, assigned preparer).
    # Histories before pending questions became optional carry 0 where nothing read them.
    assigned_preparer_id: uuid.UUID | None = None
    pending_questions: int | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    ip_address: str | None = None


class TransitionResult(BaseModel):
    id: uuid.UUID
    status: str
    previous_status: str
    transitioned_at: datetime


class ReturnChanged(BaseModel):
    assigned_preparer_id: uuid.UUID | None
    assigned_reviewer_id: uuid.UUID | None
    deadline: date
    deleted: bool = False
