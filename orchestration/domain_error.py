"""The one codec that carries a `DomainError` across the Temporal boundary, both ways.

Inside a workflow or an activity, a business refusal (403, 409, 422 …) is raised as a non-retryable
`ApplicationError` of type `DomainError` whose details carry status, code, title and field errors
(`as_failure`). The caller (the API waiting on an Update, a workflow on an activity) turns any failure back
into the same `DomainError` (`from_failure`), so the problem+json answer is the one the rule raised.
"""

from __future__ import annotations

from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

from domain.errors import DomainError, FieldError

TYPE = "DomainError"


def as_failure(err: DomainError) -> ApplicationError:
    """A DomainError as the ApplicationError that crosses Temporal (never retried: a refusal stays one)."""
    return ApplicationError(err.detail, {"status": err.status, "code": err.code, "title": err.title,
                                         "errors": [e.as_dict() for e in err.errors]},
                            type=TYPE, non_retryable=True)


def from_failure(exc: BaseException | None) -> DomainError | None:
    """The DomainError a failure carries, looking through Update, activity and child-workflow wrappers;
    None when the failure is not a refusal."""
    while exc is not None:
        if isinstance(exc, ApplicationError) and exc.type == TYPE and exc.details:
            info = exc.details[0]
            return DomainError(exc.message, [FieldError(**e) for e in info.get("errors", [])], info["status"],
                               info["code"], info["title"])
        if isinstance(exc, (WorkflowUpdateFailedError, ActivityError, ChildWorkflowError, ApplicationError)):
            exc = exc.cause
            continue
        return None
    return None
