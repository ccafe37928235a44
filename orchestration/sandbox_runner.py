"""The workflow sandbox every worker runs its workflows in: the SDK's own (SandboxedWorkflowRunner, default
restrictions), with two costs of entering it taken out. Workflow code runs exactly as before: inside the
sandbox, behind the SDK's import hooks and restricted builtins.

- The SDK enters a sandbox by `exec` of a short source snippet, and `exec` of a string compiles it every time
  (~20 µs a snippet, against 0.7 µs to run it compiled). Here each snippet is compiled once per process and the
  code object is executed instead: the same snippet, the same globals, the same import hooks around it.
- The payload visitor asks the workflow's instance for each payload's serialization and storage context, three or
  four times a payload (in each of its passes over an activation and over a completion), and the SDK enters the
  sandbox for each answer. The answer is the SDK's own instance reading its own state: the in-sandbox object passes
  the call straight through to `_WorkflowInstanceImpl` (a module of temporalio, passed through, not re-imported),
  and no workflow code runs. Here it is asked directly.

A transition entered the sandbox 23 times, 21 of them for those contexts (2 now: its two activations); under the
transition benchmark's load the compile was the largest single cost in the worker's profile (docs/performance.md,
Transitions, session 33).

Both override private parts of the SDK (temporalio 1.35): `_Instance._run_code`, and `InSandbox`'s pass-through of
the two context calls. tests/test_sandbox_runner.py fails if an SDK upgrade changes either, so that this module is
looked at again rather than silently wrong or silently slow.
"""

from __future__ import annotations

from functools import lru_cache
from types import CodeType
from typing import Any

from temporalio.converter import SerializationContext
from temporalio.converter._extstore import StorageDriverStoreContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

# The snippets are fixed text (their data travel in the globals), one set per workflow class: a small bound.
SNIPPETS_KEPT = 256
IN_SANDBOX = "__temporal_in_sandbox"  # the SDK's name for the in-sandbox object in the sandbox's globals


@lru_cache(maxsize=SNIPPETS_KEPT)
def compiled(snippet: str) -> CodeType:
    # Compiled as `exec(snippet)` in the SDK's module would compile it (no future flags from this module).
    return compile(snippet, "<string>", "exec", dont_inherit=True)


class _LeanInstance(_Instance):
    def _run_code(self, code: str, **extra_globals: Any) -> None:
        super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]  # exec takes code objects

    def get_serialization_context(self, command_info: CommandInfo | None) -> SerializationContext | None:
        return self.globals_and_locals[IN_SANDBOX].get_serialization_context(command_info)

    def get_external_store_context(self, command_info: CommandInfo | None) -> StorageDriverStoreContext:
        return self.globals_and_locals[IN_SANDBOX].get_external_store_context(command_info)


class LeanSandboxRunner(SandboxedWorkflowRunner):
    """SandboxedWorkflowRunner whose instances compile each sandbox-entry snippet once per process and answer a
    payload's contexts without entering the sandbox."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _LeanInstance(det, self.runner_class, self.restrictions)
