"""The workers' sandbox runner (orchestration/sandbox_runner.py): the SDK's sandbox, each entry snippet compiled
once and a payload's contexts asked of the instance directly. What must hold: the SDK still enters the sandbox
and answers those contexts where the runner hooks in, a workflow under it is as restricted as under the SDK's own
runner, and every context answered directly is the one the SDK would have answered from inside the sandbox.
(The replay tests of recorded histories replay under it too.)"""

from __future__ import annotations

import inspect
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.worker import Worker

with workflow.unsafe.imports_passed_through():
    from datetime import datetime

    from temporalio.worker.workflow_sandbox import RestrictedWorkflowAccessError
    from temporalio.worker.workflow_sandbox._in_sandbox import InSandbox
    from temporalio.worker.workflow_sandbox._runner import _Instance

    from orchestration.sandbox_runner import LeanSandboxRunner, _LeanInstance, compiled


@activity.defn(name="sandbox_probe_echo")
async def echo(text: str) -> str:
    return text


@workflow.defn(name="SandboxProbe")
class SandboxProbe:
    @workflow.run
    async def run(self, text: str) -> str:
        try:
            datetime.now()  # non-deterministic: the sandbox refuses it
        except RestrictedWorkflowAccessError:
            restricted = "restricted"
        else:
            restricted = "allowed"
        # Payloads with an activity's context and a local activity's, besides the workflow's own.
        echoed = await workflow.execute_activity(echo, text, start_to_close_timeout=timedelta(seconds=10))
        echoed += await workflow.execute_local_activity(echo, "!", start_to_close_timeout=timedelta(seconds=10))
        return f"{restricted} {echoed}"


class _CheckedInstance(_LeanInstance):
    """Answers as the lean instance does, and keeps beside each answer the one the SDK's way (into the sandbox)
    gives."""

    answers: list[tuple] = []

    def get_serialization_context(self, command_info):
        direct = super().get_serialization_context(command_info)
        self.answers.append((direct, _Instance.get_serialization_context(self, command_info)))
        return direct

    def get_external_store_context(self, command_info):
        direct = super().get_external_store_context(command_info)
        self.answers.append((direct, _Instance.get_external_store_context(self, command_info)))
        return direct


class _CheckedRunner(LeanSandboxRunner):
    def create_instance(self, det):
        return _CheckedInstance(det, self.runner_class, self.restrictions)


def test_the_sdk_enters_the_sandbox_and_answers_contexts_where_the_runner_hooks_in():
    # An SDK upgrade that renames the entry would leave the snippets compiled on every entry again, unseen; one
    # that makes the in-sandbox answer more than a pass-through must be looked at before it is asked directly.
    assert "_run_code" in vars(_Instance)
    for name in ("get_serialization_context", "get_external_store_context"):
        body = inspect.getsource(getattr(InSandbox, name)).rstrip().splitlines()[-1].strip()
        assert body == f"return self.instance.{name}(command_info)"
    snippet = "with __temporal_importer.applied():\n  pass\n"
    assert compiled(snippet) is compiled(snippet)


async def test_a_workflow_under_the_runner_is_restricted_and_its_contexts_are_the_sdks(tp):
    queue = f"sandbox-probe-{uuid.uuid4().hex[:8]}"
    _CheckedInstance.answers.clear()
    async with Worker(tp.temporal, task_queue=queue, workflows=[SandboxProbe], activities=[echo],
                      workflow_runner=_CheckedRunner()):
        entries = compiled.cache_info().hits
        result = await tp.temporal.execute_workflow(SandboxProbe.run, "hello", id=f"probe:{queue}", task_queue=queue,
                                                    execution_timeout=timedelta(seconds=60))
    assert result == "restricted hello!"
    assert compiled.cache_info().hits > entries  # it entered through snippets compiled before
    assert all(direct == sdk for direct, sdk in _CheckedInstance.answers)
    kinds = {type(direct).__name__ for direct, _ in _CheckedInstance.answers}
    assert {"WorkflowSerializationContext", "ActivitySerializationContext", "StorageDriverStoreContext"} <= kinds
