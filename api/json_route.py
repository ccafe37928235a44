"""Every v1 route's JSON answer written by `json.dumps` directly, not walked by FastAPI's `jsonable_encoder` first.

Handlers return envelopes made of JSON's own types (api/envelope.py and each resource's renderer give strings,
numbers, booleans, None, lists and dicts), and no route has a response model (api/openapi.answers). FastAPI
still walks such a dict value by value with `jsonable_encoder` (a dataclass, pydantic and enum check per value)
before `json.dumps` writes it: 16 % of the API process's CPU on a 25-client list page (bench/bench_client.py,
session 27). Here a handler's dict or list becomes the `JSONResponse` FastAPI would have made, status and all,
written by `json.dumps` in one pass. A value of another type (a UUID, a datetime, a model) still goes through
`jsonable_encoder`, as json.dumps's `default`, and a dict keyed by one is encoded whole by it as before, so every
answer is the bytes FastAPI wrote. A handler that returns a Response, or nothing (a 204), is left as it was.
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import Any, Callable

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute


class EncodedJSONResponse(JSONResponse):
    """Starlette's JSONResponse (the same separators, no ASCII escaping, no NaN), for content of any type."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"),
                              default=jsonable_encoder)
        except TypeError:  # a key json.dumps does not take (a UUID): FastAPI's way, the whole content
            return super().render(jsonable_encoder(content))
        return text.encode("utf-8")


def _answering_json(endpoint: Callable[..., Any], status_code: int | None) -> Callable[..., Any]:
    def answer(result: Any) -> Any:
        if isinstance(result, (dict, list)):
            return EncodedJSONResponse(result, status_code=status_code or 200)
        return result

    # functools.wraps: FastAPI reads the handler's own signature, name and docstring through __wrapped__.
    if inspect.iscoroutinefunction(endpoint):
        @functools.wraps(endpoint)
        async def handler(*args: Any, **kwargs: Any) -> Any:
            return answer(await endpoint(*args, **kwargs))
    else:  # FastAPI runs it on its thread pool, as it would the handler itself
        @functools.wraps(endpoint)
        def handler(*args: Any, **kwargs: Any) -> Any:
            return answer(endpoint(*args, **kwargs))
    return handler


class JSONRoute(APIRoute):
    """The route class of every v1 router (`APIRouter(route_class=JSONRoute)`; tests/foundation/test_json_route.py
    checks that none is left out)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _answering_json(endpoint, kwargs.get("status_code")), **kwargs)
