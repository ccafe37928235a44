"""What every log line says about where it comes from, read from context variables at the moment it is written.

The API binds the request's ids and, once the caller is authenticated, the firm; the workers bind the workflow
id of the activity or workflow task that logs. `log_fields()` collects them, plus the current trace id.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from opentelemetry import trace

firm_id_var: ContextVar[str | None] = ContextVar("log_firm_id", default=None)

# name → getter; a getter answering None leaves the field out. Other layers register theirs (the API its request
# ids: api/app.py), so this module depends on none of them.
_FIELD_SOURCES: dict[str, Callable[[], str | None]] = {"firm_id": firm_id_var.get}


def register_field(name: str, getter: Callable[[], str | None]) -> None:
    _FIELD_SOURCES[name] = getter


def current_trace_id() -> str | None:
    """The W3C trace id (32 hex digits) of the span in progress, or None outside any trace."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def _temporal_workflow_id() -> str | None:
    # Imported here: the CLI and the API never run activities, and the lookup costs a call only inside one.
    from temporalio import activity, workflow

    try:
        return activity.info().workflow_id
    except RuntimeError:
        pass
    try:
        return workflow.info().workflow_id
    except Exception:  # outside a workflow (the SDK raises RuntimeError or its own _NotInWorkflowEventLoopError)
        return None


def log_fields() -> dict[str, str]:
    fields = {}
    for name, getter in _FIELD_SOURCES.items():
        value = getter()
        if value:
            fields[name] = str(value)
    workflow_id = _temporal_workflow_id()
    if workflow_id:
        fields["workflow_id"] = workflow_id
    trace_id = current_trace_id()
    if trace_id:
        fields["trace_id"] = trace_id
    return fields
