"""The workflow sandbox every worker runs its workflows in: the SDK's own (SandboxedWorkflowRunner, default
restrictions), with one cost taken out.

The SDK enters a workflow's sandbox by `exec` of a short source snippet: once per activation, and three or four
times per payload (the payload visitor asks the sandboxed instance for the payload's serialization and storage
context before each codec step). `exec` of a string compiles it every time, ~20 µs a snippet against 0.7 µs to run
it compiled, and a transition enters the sandbox 23 times: under the transition benchmark's load the compile was
the largest single cost in the worker's profile (docs/performance.md, Transitions, session 33). Here
each snippet is compiled once per process and the code object is executed instead; the snippets, the globals they
run with and the import hooks around them are the SDK's, unchanged, so the sandbox isolates and restricts exactly
as before.

It overrides the SDK's private `_Instance._run_code` (temporalio 1.35): tests/test_sandbox_runner.py fails if an
SDK upgrade renames it, rather than the saving vanishing unseen.
"""

from __future__ import annotations

from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

# The snippets are fixed text (their data travel in the globals), one set per workflow class: a small bound.
SNIPPETS_KEPT = 256


@lru_cache(maxsize=SNIPPETS_KEPT)
def compiled(snippet: str) -> CodeType:
    # Compiled as `exec(snippet)` in the SDK's module would compile it (no future flags from this module).
    return compile(snippet, "<string>", "exec", dont_inherit=True)


class _CompiledOnceInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]  # exec takes code objects


class CompiledOnceSandboxRunner(SandboxedWorkflowRunner):
    """SandboxedWorkflowRunner whose instances compile each sandbox-entry snippet once per process."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)
