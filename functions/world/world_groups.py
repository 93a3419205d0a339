"""Groups (SPEC §5): create (top-level, or a subgroup), get."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.domain.naming import TOO_DEEP, too_long
from cluster_agents.services import world
from cluster_agents.web import entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.entities import GroupEntity
from world_params import NewGroup
from world_shared import PATH_RULES, check_path

router = Router()
GROUP_TAGS = ["groups"]
PATH_TAKEN = e.ValidationFailed(["Path has already been taken"])


@router.post(
    "/api/v4/groups",
    summary="Create a group",
    tags=GROUP_TAGS,
    security=docs.USER_SECURITY,
    description="Anyone may create a top-level group; a subgroup needs Maintainer in its parent.",
    middlewares=[guards.USER],
    responses=docs.responses(
        201,
        docs.USER,
        e.InvalidParameters(["name is missing"]),
        PATH_RULES,
        e.ValidationFailed([TOO_DEEP]),
        e.ValidationFailed(too_long("Path", "-" * 256)),
        e.GroupNotFound(),
        docs.FORBIDDEN,
        PATH_TAKEN,
        model=GroupEntity,
    ),
)
def handle_create_group(params: Annotated[NewGroup, typed.Body()]):
    check_path(params.path)
    group = world.create_group(
        current_user().user, params.name, params.path, params.parent_id, params.visibility, params.description
    )
    return respond(entities.group(group), 201)


@router.get(
    "/api/v4/groups/<id>",
    summary="Get a group",
    tags=GROUP_TAGS,
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(200, docs.USER, e.GroupNotFound(), model=GroupEntity),
)
def handle_get_group(id: typed.ProjectRef):
    group, _ = world.visible_group(current_user().user, id)
    return respond(entities.group(group))
