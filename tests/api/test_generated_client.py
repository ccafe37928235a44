"""A real client (issue 14): openapi-python-client generates a Python package from /v1/openapi.json at test time
(into a temporary directory: nothing generated is committed), and the test walks a return from intake to
complete with it — its typed models and its functions, no hand-written HTTP. A document that cannot drive a
generated client fails here."""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
import uuid
from datetime import date
from pathlib import Path

import pytest

from tests.tax_return.conftest import portal_headers

pytestmark = pytest.mark.asyncio(loop_scope="session")

PACKAGE = "taxpractice_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


def _generate(document: dict, into: Path) -> None:
    (into / "openapi.json").write_text(json.dumps(document))
    # No post hooks: the generator would otherwise run ruff over the code, which is not needed to import it. A PDF
    # (a signed engagement letter) is read as the bytes it is: the generator knows no application/pdf.
    (into / "config.json").write_text(json.dumps({
        "package_name_override": PACKAGE, "post_hooks": [],
        "content_type_overrides": {"application/pdf": "application/octet-stream"}}))
    done = subprocess.run([str(GENERATOR), "generate", "--path", str(into / "openapi.json"), "--config",
                           str(into / "config.json"), "--output-path", str(into / PACKAGE), "--meta", "none"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    # The generator warns about what it could not type; a document it cannot fully read is a failure here.
    assert "Warning" not in done.stdout + done.stderr, done.stdout + done.stderr


class Generated:
    """The generated package's modules, imported by name."""

    def __init__(self, root: Path):
        sys.path.insert(0, str(root))
        self.root = root

    def module(self, *path: str):
        return importlib.import_module(".".join((PACKAGE, *path)))

    def operation(self, tag: str, operation_id: str):
        """The module of one operation: `asyncio(...)` answers its typed model (or a Problem)."""
        return self.module("api", tag, operation_id)

    def close(self) -> None:
        sys.path.remove(str(self.root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


@pytest.fixture
async def generated(tp, tmp_path):
    document = (await tp.http.get("/v1/openapi.json")).json()
    await asyncio.to_thread(_generate, document, tmp_path)
    package = Generated(tmp_path)
    yield package
    package.close()


def _token(headers: dict) -> str:
    return headers["Authorization"].removeprefix("Bearer ")


async def test_a_generated_client_walks_a_return_to_complete(tp, api_url, generated):
    client_module = generated.module("client")
    models = generated.module("models")
    create_client = generated.operation("clients", "create_client")
    create_return = generated.operation("returns", "create_return")
    transition_return = generated.operation("returns", "transition_return")
    get_workflow_state = generated.operation("returns", "get_workflow_state")
    get_return = generated.operation("returns", "get_return")
    create_question = generated.operation("questions", "create_question")
    answer_question = generated.operation("questions", "answer_question")

    firm = await tp.new_firm("Generated client")
    email = f"generated-{uuid.uuid4().hex[:8]}@example.com"
    staff = {role: (await tp.staff_session(firm, role)) for role in ("admin", "preparer", "reviewer")}

    def signed_in(headers: dict):
        return client_module.AuthenticatedClient(base_url=api_url, token=_token(headers),
                                                 raise_on_unexpected_status=True)

    admin, preparer, reviewer = (signed_in(staff[r][1]) for r in ("admin", "preparer", "reviewer"))
    system = signed_in({"Authorization": f"Bearer {tp.settings.service_token}"})

    created = await create_client.asyncio(client=admin, body=models.ClientCreate(
        client_type=models.ClientCreateClientType.INDIVIDUAL, name="Generated Client",
        email=email, assigned_preparer_id=staff["preparer"][0]))
    assert isinstance(created, models.ClientDetailResponse), created
    client_id = created.data.id

    tax_return = await create_return.asyncio(client=preparer, body=models.ReturnCreate(
        client_id=client_id, tax_year=date.today().year - 1, return_type=models.ReturnCreateReturnType("1040")))
    assert isinstance(tax_return, models.ReturnDetailResponse), tax_return
    return_id = tax_return.data.id
    assert tax_return.data.status.value == "intake"

    async def move(who, action: str) -> str:
        answer = await transition_return.asyncio(return_id, client=who, body=models.TransitionBody(
            action=models.TransitionBodyAction(action)))
        assert isinstance(answer, models.TransitionResultResponse), (action, answer)
        return answer.data.status.value

    async def settled_in(status: str) -> None:
        for _ in range(150):
            state = await get_workflow_state.asyncio(return_id, client=preparer)
            if state.data.current_status.value == status:
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the return did not reach {status}: {state.data.current_status.value}")

    assert await move(preparer, "mark_ready_for_prep") == "ready_for_prep"
    assert await move(preparer, "start_prep") == "ai_analysis"
    await settled_in("in_prep")  # the workflow's analysis sends complete_ai_analysis

    # A question for the client: the return waits for the answer, which the client gives through the same client.
    asked = await create_question.asyncio(return_id, client=preparer, body=models.QuestionCreate(
        question_text="Did you sell any stocks last year?"))
    assert isinstance(asked, models.QuestionOutResponse), asked
    assert await move(preparer, "request_client_info") == "pending_client_response"
    portal = signed_in(await portal_headers(tp, email))
    answered = await answer_question.asyncio(return_id, asked.data.id, client=portal,
                                                       body=models.AnswerBody(answer_text="No sales"))
    assert answered.data.status.value == "answered"
    await settled_in("in_prep")  # the last answer sends client_responded

    assert await move(preparer, "submit_for_review") == "ready_for_review"
    assert await move(reviewer, "start_review") == "in_review"
    assert await move(reviewer, "approve") == "approved"
    for action, status in (("send_for_signature", "pending_signature"), ("signature_received", "ready_to_file"),
                           ("transmit", "filed"), ("mark_accepted", "accepted"), ("complete", "complete")):
        assert await move(system, action) == status

    final = await get_return.asyncio(return_id, client=admin)
    assert final.data.status.value == "complete" and final.data.progress_percentage == 100
    history = [(h.from_status.value if h.from_status else None, h.to_status.value)
               for h in final.data.workflow_history]
    assert history[0] == ("intake", "ready_for_prep") and history[-1] == ("accepted", "complete")

    # A refusal is a typed Problem too (raise_on_unexpected_status: it is a documented status).
    refused = await transition_return.asyncio(return_id, client=system, body=models.TransitionBody(
        action=models.TransitionBodyAction("complete")))
    assert isinstance(refused, models.Problem) and refused.status == 409, refused
