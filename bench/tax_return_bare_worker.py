"""The baseline of bench_tax_return: a workflow whose Update does nothing, served by a worker process of its
own, so a bare Temporal Update round trip is measured on the same server as the transitions.

`python -m bench.tax_return_bare_worker QUEUE` (started by the benchmark). Only temporalio is imported:
the workflow sandbox re-imports this module.
"""

from __future__ import annotations

import asyncio
import os
import sys

from temporalio import workflow

BARE_UPDATE = "ping"


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


async def _serve(queue: str) -> None:
    from temporalio.client import Client
    from temporalio.worker import Worker

    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"], namespace=os.environ.get("TEMPORAL_NAMESPACE",
                                                                                          "default"))
    async with Worker(client, task_queue=queue, workflows=[BareUpdateWorkflow]):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_serve(sys.argv[1]))
