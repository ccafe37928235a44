"""The sandbox executes a workflow's module afresh for every workflow run it builds (a cold workflow: after a
restart, an eviction from the cache, each replay), so what a workflow module does at import is paid per workflow.
Two costs that are easy to add back, kept out (docs/performance.md, Cold cache, session 34):

- `from __future__ import annotations`: the SDK reads every handler's type hints when `workflow.defn` runs, and
  string annotations are compiled and evaluated again in each sandbox;
- a model class (pydantic builds each model's validator when the class is created, ~1.3 ms): models live in the
  passed-through modules (`orchestration/`, `activities/`), where they are built once per process."""

import ast
from pathlib import Path

WORKFLOWS = sorted((Path(__file__).parent.parent / "workflows").glob("*.py"))


def test_workflow_modules_use_no_string_annotations():
    offenders = [path.name for path in WORKFLOWS
                 for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.ImportFrom) and node.module == "__future__"
                 and any(alias.name == "annotations" for alias in node.names)]
    assert offenders == []


def test_workflow_modules_define_no_models():
    offenders = [f"{path.name}:{node.name}" for path in WORKFLOWS
                 for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.ClassDef)
                 and any(ast.unparse(base).endswith("BaseModel") for base in node.bases)]
    assert offenders == []
