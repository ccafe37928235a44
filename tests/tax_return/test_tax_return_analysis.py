"""Analysis (spec §5.8–5.9): the offline analyzer, the Bedrock analyzer against botocore's Stubber, the API,
suggestions becoming questions, and an exception sending the return to needs_review."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict
from decimal import Decimal

import boto3
from botocore.stub import Stubber

from domain.tax_return.analysis import AnalysisInput, OfflineAnalyzer
from integrations.bedrock import INSTRUCTIONS, BedrockAnalysisError, BedrockAnalyzer
from tests.tax_return.conftest import assert_problem, create_return, transition, wait_for_status

FACTS = AnalysisInput(return_type="1040", tax_year=2024, include_prior_year_comparison=True,
                      document_types=["W-2"], prior_year_document_types=["W-2", "1099-B", "1099-INT"],
                      checklist_missing=[("1098", "1098 from First Bank (based on prior year)")],
                      amounts={"interest_income": Decimal("2500"), "estimated_tax_due": Decimal("1100")},
                      prior_year_amounts={"interest_income": Decimal("1000"), "estimated_tax_due": Decimal("1000")})


def test_offline_analyzer_is_deterministic():
    analysis_id = uuid.uuid4()
    result = OfflineAnalyzer().analyze(analysis_id, FACTS)
    assert result == OfflineAnalyzer().analyze(analysis_id, FACTS)
    kinds = [(f.type, f.severity, f.description) for f in result.findings]
    assert kinds == [
        ("missing_document", "high", "1098 from First Bank (based on prior year) not found (document checklist)"),
        ("missing_document", "high", "1099-B not found (expected from your 2023 return)"),
        ("missing_document", "high", "1099-INT not found (expected from your 2023 return)"),
        ("prior_year_variance", "high", "Interest income increased 150% from prior year"),
    ]  # estimated tax due moved 10 %: under the 30 % threshold
    assert result.has_exception  # 150 % ≥ 100 %
    assert len(result.suggested_questions) == 4 and len({q.id for q in result.suggested_questions}) == 4


def test_bedrock_analyzer_with_stubber():
    client = boto3.client("bedrock-runtime", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="y")
    answer = {"findings": [{"type": "missing_document", "severity": "high", "description": "1099-B not found",
                            "recommendation": "Request brokerage statement from client", "exception": False}],
              "suggested_questions": [{"question": "Did you sell any stocks?", "context": "1099-B last year"}]}
    analyzer = BedrockAnalyzer(client, "anthropic.test-model")
    with Stubber(client) as stub:
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "Here:\n" + json.dumps(answer)}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 10, "outputTokens": 10, "totalTokens": 20},
            "metrics": {"latencyMs": 5}},
            # Only de-identified facts go out: types, amounts, the return's type and year.
            expected_params={"modelId": "anthropic.test-model", "system": [{"text": INSTRUCTIONS}],
                             "messages": [{"role": "user", "content": [{"text": json.dumps(
                                 asdict(FACTS), default=str, sort_keys=True)}]}],
                             "inferenceConfig": {"maxTokens": 1500, "temperature": 0}})
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "I cannot help with that."}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
            "metrics": {"latencyMs": 1}})
        result = analyzer.analyze(uuid.uuid4(), FACTS)
        assert [f.description for f in result.findings] == ["1099-B not found"] and not result.has_exception
        assert result.suggested_questions[0].question == "Did you sell any stocks?"
        try:
            analyzer.analyze(uuid.uuid4(), FACTS)
            raise AssertionError("a non-JSON answer must fail")
        except BedrockAnalysisError:
            pass
        stub.assert_no_pending_responses()


async def _analysis(tp, headers, rid, analysis_id) -> dict:
    for _ in range(200):
        body = (await tp.http.get(f"/v1/returns/{rid}/ai/analysis/{analysis_id}", headers=headers)).json()["data"]
        if body["status"] != "processing":
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("analysis did not finish")


async def test_analysis_through_the_api(tp, office):
    h = office.headers
    prior = await create_return(tp, h["preparer"], office.client["id"], 2023)
    current = await create_return(tp, h["preparer"], office.client["id"], 2024)
    await tp.http.patch(f"/v1/returns/{prior['id']}", headers=h["preparer"], json={"estimated_tax_due": 1000})
    await tp.http.patch(f"/v1/returns/{current['id']}", headers=h["preparer"], json={"estimated_tax_due": 1500})
    started = await tp.http.post(f"/v1/returns/{current['id']}/ai/analyze", headers=h["preparer"],
                                 json={"analysis_type": "comprehensive", "include_prior_year_comparison": True})
    assert started.status_code == 202, started.text
    assert started.json()["data"]["status"] == "processing" and started.json()["data"]["estimated_completion"]
    analysis = await _analysis(tp, h["preparer"], current["id"], started.json()["data"]["analysis_id"])
    assert analysis["status"] == "completed" and analysis["analyzer"] == "offline"
    # No documents yet: the checklist's baseline W-2 is missing; the tax due rose 50 %.
    assert [(f["type"], f["severity"]) for f in analysis["findings"]] == [
        ("missing_document", "high"), ("prior_year_variance", "medium")]
    assert "W-2" in analysis["findings"][0]["description"]
    suggestion = analysis["suggested_questions"][1]
    question = await tp.http.post(f"/v1/returns/{current['id']}/questions", headers=h["preparer"], json={
        "analysis_id": analysis["id"], "suggested_question_id": suggestion["id"]})
    assert question.status_code == 201, question.text
    assert question.json()["data"]["source"] == "ai_generated"
    assert question.json()["data"]["question_text"] == suggestion["question"]
    assert_problem(await tp.http.post(f"/v1/returns/{current['id']}/questions", headers=h["preparer"], json={
        "analysis_id": analysis["id"], "suggested_question_id": str(uuid.uuid4())}), 422)
    assert_problem(await tp.http.post(f"/v1/returns/{current['id']}/ai/analyze", headers=h["client"], json={}), 403)
    assert_problem(await tp.http.get(f"/v1/returns/{prior['id']}/ai/analysis/{analysis['id']}",
                                     headers=h["preparer"]), 404)


async def test_an_exception_sends_the_return_to_needs_review(tp, office):
    h = office.headers
    prior = await create_return(tp, h["preparer"], office.client["id"], 2022)
    current = await create_return(tp, h["preparer"], office.client["id"], 2023)
    await tp.http.patch(f"/v1/returns/{prior['id']}", headers=h["preparer"], json={"estimated_refund": 500})
    await tp.http.patch(f"/v1/returns/{current['id']}", headers=h["preparer"], json={"estimated_refund": 4000})
    await transition(tp, h["preparer"], current["id"], "mark_ready_for_prep")
    await transition(tp, h["preparer"], current["id"], "start_prep")
    await wait_for_status(tp, h["preparer"], current["id"], "needs_review")
    await transition(tp, h["preparer"], current["id"], "resolve_exception", expect=403)
    await transition(tp, h["reviewer"], current["id"], "resolve_exception", "refund verified")
    state = (await tp.http.get(f"/v1/returns/{current['id']}/workflow/state", headers=h["admin"])).json()["data"]
    assert [r["action"] for r in state["history"]][-2:] == ["flag_exception", "resolve_exception"]
