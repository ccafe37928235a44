"""The baselines of bench_tax_return, served by a worker process of their own on the same server as the
transitions:

- `BareUpdate`: an Update that does nothing, the bare Temporal Update round trip;
- `TransitionFloor`: what the spec asks of Temporal for any transition, and nothing of ours: a workflow that
  carries the search attributes the issue names for Temporal UI (status, client, tax year, assignee, return
  type; stuck-since is unset until a return is stuck), and an Update whose handler runs a local activity that
  does nothing (the write must go through an activity) and upserts the status.

`python -m bench.tax_return_bare_worker QUEUE` (started by the benchmark). Only temporalio and the search
attribute list are imported: the workflow sandbox re-imports this module.
"""

import asyncio
import os
import sys
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes

with workflow.unsafe.imports_passed_through():
    from orchestration import search_attributes as sa

BARE_UPDATE = "ping"
FLOOR_UPDATE = "step"


@workflow.defn(name="BareUpdate")
class BareUpdateWorkflow:
    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update(name=BARE_UPDATE)
    def ping(self) -> int:
        self.count += 1
        return self.count


@activity.defn(name="bench_write_nothing")
async def write_nothing() -> None:
    return None


@workflow.defn(name="TransitionFloor")
class TransitionFloorWorkflow:
    def __init__(self) -> None:
        self.count = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update(name=FLOOR_UPDATE)
    async def step(self) -> int:
        self.count += 1
        await workflow.execute_local_activity(write_nothing, start_to_close_timeout=timedelta(seconds=10))
        workflow.upsert_search_attributes([sa.ENTITY_STATUS.value_set(f"step-{self.count}")])
        return self.count


def floor_search_attributes() -> TypedSearchAttributes:
    """What a TransitionFloor workflow starts with: the attributes a return's workflow must carry."""
    return TypedSearchAttributes([
        SearchAttributePair(sa.ENTITY_STATUS, "intake"), SearchAttributePair(sa.CLIENT_ID, str(uuid.uuid4())),
        SearchAttributePair(sa.TAX_YEAR, 2024), SearchAttributePair(sa.ASSIGNEE_ID, str(uuid.uuid4())),
        SearchAttributePair(sa.RETURN_TYPE, "1040")])


async def _serve(queue: str) -> None:
    from temporalio.worker import Worker

    from orchestration.connect import connect
    from orchestration.sandbox_runner import LeanSandboxRunner
    from settings import get_settings

    # The app's own connection (sealed payloads, orchestration/payload_codec.py) and sandbox runner, like the
    # workers': the baselines then differ from a transition by our code only.
    client = await connect(get_settings())
    async with Worker(client, task_queue=queue, workflows=[BareUpdateWorkflow, TransitionFloorWorkflow],
                      activities=[write_nothing], max_cached_workflows=int(os.environ["WORKFLOW_CACHE_SIZE"]),
                      workflow_runner=LeanSandboxRunner()):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1]))
