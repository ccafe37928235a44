"""The normalized portal surfaces as the API answers them (GET /v1/clients/{id}/portal/{surface}): the protocol's
fields (integrations/portal_models.py) with the portal's `id` as `portal_id`, our row's id and keys, a thread's
messages, and an organizer answer's attachments as our document ids. They are the OpenAPI of the normalized
surfaces: in /v1/openapi.json, and standalone in docs/portal/surfaces.openapi.json
(`python -m api.schemas.portal_surfaces > docs/portal/surfaces.openapi.json`; tests/portal keeps it current)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Union

from pydantic import BaseModel, RootModel, create_model

from api.openapi import ReadModel
from domain.portal.surfaces import READABLE, SPECS
from integrations import portal_models as pm


class _Common(ReadModel):
    id: uuid.UUID
    client_id: uuid.UUID
    connection_id: uuid.UUID
    portal_account_id: str
    portal_id: str
    portal_updated_at: datetime
    imported_at: datetime


class PortalQuestion(pm.Question):
    attachment_document_ids: list[uuid.UUID | None]


class PortalMessage(ReadModel):
    portal_id: str
    author: pm.Author
    body: str
    sent_at: datetime
    attachment_ids: list[str]
    updated_at: datetime


def _surface_model(surface: str, protocol: type[BaseModel]) -> type[BaseModel]:
    fields = {name: (info.annotation, ...) for name, info in protocol.model_fields.items()
              if name not in ("id", "updated_at")}
    if surface == "organizers":
        fields["questions"] = (list[PortalQuestion], ...)
    if surface == "threads":
        fields["messages"] = (list[PortalMessage], ...)
    name = "Portal" + surface.title().rstrip("s")
    return create_model(name, __base__=_Common, **fields)


SURFACE_MODELS: dict[str, type[BaseModel]] = {s: _surface_model(s, m) for s, m in READABLE.items()}
for _surface, _model in SURFACE_MODELS.items():
    # As api.openapi.list_of holds one list's items to its ListSpec: the model, the renderer and `fields=` agree.
    if frozenset(_model.model_fields) != SPECS[_surface].output_fields:
        raise RuntimeError(f"{_model.__name__} and its ListSpec differ: "
                           f"{sorted(frozenset(_model.model_fields) ^ SPECS[_surface].output_fields)}")


class PortalSurfaceItem(RootModel[Union[tuple(SURFACE_MODELS.values())]]):  # noqa: UP007 (generated models)
    """An item of one surface: which one, the path's `surface` says."""


def openapi() -> dict:
    """A standalone OpenAPI 3.1 document of the normalized surfaces."""
    from pydantic.json_schema import models_json_schema

    _, schemas = models_json_schema([(m, "serialization") for m in SURFACE_MODELS.values()],
                                    ref_template="#/components/schemas/{model}")
    paths = {}
    for surface, model in SURFACE_MODELS.items():
        paths[f"/v1/clients/{{client_id}}/portal/{surface}"] = {"get": {
            "operationId": f"list_client_portal_{surface}", "summary": f"A client's imported portal {surface}",
            "parameters": [{"name": "client_id", "in": "path", "required": True,
                            "schema": {"type": "string", "format": "uuid"}}],
            "responses": {"200": {"description": "a spec §3 list", "content": {"application/json": {"schema": {
                "type": "object", "properties": {
                    "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{model.__name__}"}},
                    "pagination": {"type": "object"}, "meta": {"type": "object"}}}}}}}}}
    return {"openapi": "3.1.0", "info": {"title": "Tax Practice: normalized client-portal surfaces", "version": "1"},
            "paths": paths, "components": {"schemas": schemas.get("$defs", {})}}


if __name__ == "__main__":
    print(json.dumps(openapi(), indent=2, sort_keys=True))
