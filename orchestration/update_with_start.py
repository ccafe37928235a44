"""Start a workflow if it is not running and send it an Update, waiting a bounded time for its answer: how the
API hands a request (send an invoice, send a document for signature) to the workflow that carries it out."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError

from domain.errors import BusinessRuleViolation
from orchestration import domain_error

T = TypeVar("T")


async def update_with_start(client: Client, start: WithStartWorkflowOperation, update: str, result_type: type[T],
                            wait_s: float, refused: str, refused_code: str) -> T | None:
    """The Update's answer, or None when it takes longer than `wait_s` (the workflow keeps going: the API says
    202). A refusal comes back as the DomainError the workflow raised, else as a 422 `refused_code` whose detail
    is `refused` and the cause."""
    answer = asyncio.ensure_future(client.execute_update_with_start_workflow(
        update, start_workflow_operation=start, result_type=result_type))
    try:
        return await asyncio.wait_for(asyncio.shield(answer), wait_s)
    except asyncio.TimeoutError:
        answer.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)
        return None
    except WorkflowUpdateFailedError as err:
        refusal = domain_error.from_failure(err)
        if refusal is None:
            refusal = BusinessRuleViolation(f"{refused}: {err.cause or err}", code=refused_code)
        raise refusal from None
