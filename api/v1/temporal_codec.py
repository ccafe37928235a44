"""The codec endpoint for Temporal UI and the CLI (issue 13): payloads in Temporal are sealed
(orchestration/payload_codec.py), so operators read them through this endpoint, open to signed-in admins and
EA/CPAs only, every use audited. Temporal's remote codec protocol: `POST …/decode` (and `…/encode`) with
`{"payloads": [...]}`. From the CLI: `temporal workflow show -w tax-return:<id> --codec-endpoint
http://<api>/v1/admin/temporal-codec --codec-auth "Bearer <token>"`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Ctx, State
from api.openapi import answers
from domain import policy
from domain.errors import FieldError, ValidationFailed
from orchestration.connect import payload_codec
from orchestration.payload_codec import codec_server

router = APIRouter(prefix="/admin/temporal-codec", tags=["admin"])


CODEC_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Payloads"}}}}


Base64 = Annotated[str, Field(pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
                              description="base64")]


class Payload(BaseModel):
    """A Temporal payload in its JSON form (proto3 JSON: bytes as padded base64, as Temporal's clients send)."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class Payloads(BaseModel):
    """Temporal's remote codec protocol body, in and out."""

    payloads: list[Payload] | None = Field(None, description="null or absent: no payloads")


@router.post("/{operation}", summary="Decode or encode Temporal payloads (admin, EA/CPA)",
             operation_id="temporal_codec", **answers(Payloads, 403, body=CODEC_BODY))
async def temporal_codec(operation: Literal["decode", "encode"], request: Request, ctx: Ctx, state: State):
    """Temporal's remote codec protocol: `{"payloads": [{"metadata": {…}, "data": "…"}]}` in and out."""
    policy.require(ctx.principal, "admin.temporal_codec")
    try:
        body = await request.json()
        # The documented shape, checked first: protobuf's parser would read any string as base64, somehow.
        Payloads.model_validate(body)
        answer = await codec_server(payload_codec(state.settings), operation, body)
    except ValueError as exc:  # includes a body that is not JSON, and pydantic's ValidationError
        raise ValidationFailed(errors=[FieldError("payloads", "invalid_format", str(exc)[:200])]) from None
    await ctx.audit(f"temporal.payloads_{operation}d", "temporal_payload",
                    details={"count": len(answer.get("payloads", [])),
                             "namespace": request.headers.get("x-namespace")})
    return answer
