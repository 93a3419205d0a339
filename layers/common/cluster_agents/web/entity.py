"""The base of the response models (``Entity``) and the one entity several groups share."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Entity(BaseModel):
    """A response body's shape, for the OpenAPI description (``web.openapi.responses(model=...)``).

    Handlers still build their bodies as dicts in GitLab's field order (no validation, no schema
    built at import: ``defer_build``); a model lists the same fields in the same order, and
    tests/test_response_models.py and the schemathesis run check real responses against them."""

    model_config = ConfigDict(defer_build=True)


class ProjectIdentity(Entity):
    """GitLab's ``ProjectIdentity`` (``web.entities.project_identity``)."""

    id: int
    description: str | None
    name: str
    name_with_namespace: str
    path: str
    path_with_namespace: str
    created_at: str
