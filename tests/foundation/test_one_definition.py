"""One definition of each enum and list field list, in domain/: the request schemas read their choices from it,
and every list item has exactly the fields of its ListSpec."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from api import envelope
from api.schemas.admin import AuditExportRequest, UserCreate
from api.schemas.client import ClientCreate
from api.schemas.estimated_payment import PaymentConfirm, PaymentUpdate, ReminderRequest, ScheduleCreate
from api.schemas.invoice import PaymentCreate
from api.schemas.question import QuestionCreate
from api.schemas.signing import ConsentCreate, EngagementCreate, FeeStructure
from api.schemas.tax_return import AnalyzeBody, ReturnCreate
from domain.audit.service import EXPORT_FORMATS
from domain.client.service import CLIENT_STATUSES, CLIENT_TYPES
from domain.consent.models import CONSENT_KINDS
from domain.engagement.models import ENGAGEMENT_TYPES, FEE_TYPES
from domain.estimated_payment import service as estimated
from domain.invoice.service import PAYMENT_METHODS
from domain.listing import Page, parse_list_query
from domain.question.service import PRIORITIES as QUESTION_PRIORITIES
from domain.tax_calendar import RETURN_TYPES
from domain.tax_return.service import ANALYSIS_TYPES, FILING_STATUSES, PRIORITIES, RETURN_LIST_SPEC

SCHEMAS = Path(__file__).resolve().parents[2] / "api" / "schemas"


def _choices(model, name: str) -> tuple:
    annotation = model.model_fields[name].annotation
    args = typing.get_args(annotation)
    literal = next((a for a in (annotation, *args) if typing.get_origin(a) is typing.Literal), None)
    if literal is None and typing.get_origin(annotation) is list:
        literal = args[0]
    return typing.get_args(literal)


def test_request_schemas_state_no_choices_of_their_own():
    restated = [path.name for path in SCHEMAS.glob("*.py") if path.name != "base.py" and "Literal[" in path.read_text()]
    assert restated == [], "read the choices from domain/ with api.schemas.base.one_of"


def test_request_schemas_accept_exactly_the_domain_values():
    assert _choices(ReturnCreate, "return_type") == RETURN_TYPES
    assert _choices(ReturnCreate, "filing_status") == FILING_STATUSES
    assert _choices(ReturnCreate, "priority") == PRIORITIES
    assert _choices(AnalyzeBody, "analysis_type") == ANALYSIS_TYPES
    assert _choices(ClientCreate, "client_type") == CLIENT_TYPES
    assert _choices(ClientCreate, "status") == CLIENT_STATUSES
    assert _choices(PaymentCreate, "payment_method") == PAYMENT_METHODS
    assert _choices(QuestionCreate, "priority") == QUESTION_PRIORITIES
    assert _choices(ScheduleCreate, "payment_method") == estimated.SCHEDULE_METHODS
    assert _choices(PaymentUpdate, "status") == estimated.SETTABLE_STATUSES
    assert _choices(ReminderRequest, "reminder_type") == estimated.REMINDER_TYPES
    assert _choices(ReminderRequest, "channels") == estimated.REMINDER_CHANNELS
    assert _choices(PaymentConfirm, "payment_method") == estimated.PAYMENT_METHODS
    assert _choices(AuditExportRequest, "format") == EXPORT_FORMATS
    assert _choices(UserCreate, "role") == ("admin", "ea_cpa", "reviewer", "preparer")
    assert _choices(ConsentCreate, "kind") == CONSENT_KINDS
    assert _choices(EngagementCreate, "engagement_type") == ENGAGEMENT_TYPES
    assert _choices(FeeStructure, "type") == FEE_TYPES


def test_a_list_item_with_a_field_its_list_spec_lacks_is_refused():
    query = parse_list_query([], RETURN_LIST_SPEC)
    page = Page(items=[object()], next_cursor=None, has_more=False, total_count=1)
    full = dict.fromkeys(RETURN_LIST_SPEC.output_fields)
    assert envelope.page(page, query, lambda _: full)["data"] == [full]
    with pytest.raises(RuntimeError, match="secret"):
        envelope.page(page, query, lambda _: {**full, "secret": 1})
    with pytest.raises(RuntimeError, match="client_name"):
        envelope.page(page, query, lambda _: {k: v for k, v in full.items() if k != "client_name"})
