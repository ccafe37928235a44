"""The workers' sandbox runner (orchestration/sandbox_runner.py): the SDK's sandbox, each entry snippet compiled
once. What must hold: the SDK still enters the sandbox where the runner hooks in, a workflow under it is as
restricted as under the SDK's own runner. (The replay tests of recorded histories replay under it too.)"""

from __future__ import annotations

import uuid

from temporalio import workflow
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from datetime import datetime

    from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError
    from temporalio.worker.workflow_sandbox._runner import _Instance

    from orchestration.sandbox_runner import CompiledOnceSandboxRunner, compiled


@workflow.defn(name="SandboxProbe")
class SandboxProbe:
    @workflow.run
    async def run(self) -> str:
        try:
            datetime.now()  # non-deterministic: the sandbox refuses it
        except RestrictedWorkflowAccessError:
            return "restricted"
        return "allowed"


def test_the_sdk_enters_the_sandbox_where_the_runner_hooks_in():
    # An SDK upgrade that renames the hook would leave the snippets compiled on every entry again, unseen.
    assert "_run_code" in vars(_Instance)
    snippet = "with __temporal_importer.applied():\n  pass\n"
    assert compiled(snippet) is compiled(snippet)


async def test_a_workflow_under_the_runner_is_restricted_as_in_the_sdks_sandbox(tp):
    queue = f"sandbox-probe-{uuid.uuid4().hex[:8]}"
    async with Worker(tp.temporal, task_queue=queue, workflows=[SandboxProbe],
                      workflow_runner=CompiledOnceSandboxRunner()):
        entries = compiled.cache_info().hits
        result = await tp.temporal.execute_workflow(SandboxProbe.run, id=f"probe:{queue}", task_queue=queue)
    assert result == "restricted"
    assert compiled.cache_info().hits > entries  # it entered through snippets compiled before
