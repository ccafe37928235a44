"""Return analysis on AWS Bedrock (boto3 `bedrock-runtime`, the Converse API), chosen by AI_ANALYZER=bedrock.

The model gets the same de-identified input as the offline analyzer (document types, amounts, return type
and year) and must answer with one JSON object; anything else is an error the activity retries
(`BedrockAnalysisError` is a `ProviderUnavailable`). The offline analyzer stays the default: it needs no
network and gives the same answer every time. Implements `integrations.providers.Analyzer`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict

import boto3

from domain.tax_return.analysis import AnalysisInput, AnalysisResult, Finding, SuggestedQuestion, question_id
from integrations.provider_errors import provider_errors
from integrations.providers import ProviderUnavailable

KIND = "analysis"

SEVERITIES = frozenset({"low", "medium", "high"})
FINDING_TYPES = frozenset({"missing_document", "prior_year_variance", "no_prior_year", "other"})

INSTRUCTIONS = (
    "You review US tax return workpapers for a tax firm. From the JSON facts, list findings: documents that "
    "are missing compared with the prior year or the checklist, and amounts that changed more than 30% from "
    "the prior year. Answer with ONE JSON object and nothing else: {\"findings\": [{\"type\": "
    "\"missing_document|prior_year_variance|no_prior_year|other\", \"severity\": \"low|medium|high\", "
    "\"description\": str, \"recommendation\": str, \"exception\": bool}], \"suggested_questions\": "
    "[{\"question\": str, \"context\": str}]}. Set exception true only for a change of 100% or more."
)


class BedrockAnalysisError(ProviderUnavailable):
    """The model answered, but not with the JSON asked for: another attempt may do better."""

    def __init__(self, message: str):
        super().__init__(KIND, message)


def _facts(data: AnalysisInput) -> str:
    return json.dumps(asdict(data), default=str, sort_keys=True)


class BedrockAnalyzer:
    name = "bedrock"

    def __init__(self, client, model_id: str, max_tokens: int = 1500):
        self.client, self.model_id, self.max_tokens = client, model_id, max_tokens

    @classmethod
    def from_settings(cls, model_id: str, region: str, endpoint_url: str | None = None) -> "BedrockAnalyzer":
        return cls(boto3.client("bedrock-runtime", region_name=region, endpoint_url=endpoint_url), model_id)

    def analyze(self, analysis_id: uuid.UUID, data: AnalysisInput) -> AnalysisResult:
        with provider_errors(KIND):
            response = self.client.converse(
                modelId=self.model_id,
                system=[{"text": INSTRUCTIONS}],
                messages=[{"role": "user", "content": [{"text": _facts(data)}]}],
                inferenceConfig={"maxTokens": self.max_tokens, "temperature": 0},
            )
        blocks = response["output"]["message"]["content"]
        return self._parse(analysis_id, "".join(b.get("text", "") for b in blocks))

    def _parse(self, analysis_id: uuid.UUID, raw: str) -> AnalysisResult:
        start, end = raw.find("{"), raw.rfind("}")
        try:
            body = json.loads(raw[start:end + 1]) if start >= 0 else None
            findings = [Finding(type=f["type"] if f["type"] in FINDING_TYPES else "other",
                                severity=f["severity"] if f["severity"] in SEVERITIES else "medium",
                                description=str(f["description"])[:500],
                                recommendation=str(f.get("recommendation", ""))[:500],
                                exception=bool(f.get("exception", False)))
                        for f in body["findings"]]
            questions = [SuggestedQuestion(question_id(analysis_id, i), str(q["question"])[:1000],
                                           str(q.get("context", ""))[:500])
                         for i, q in enumerate(body.get("suggested_questions", []))]
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise BedrockAnalysisError(f"the model did not answer with the expected JSON: {exc}") from None
        return AnalysisResult(analyzer=self.name, findings=findings, suggested_questions=questions)
