"""Groups (SPEC §5): create (top-level, or a subgroup), get."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.domain.naming import TOO_DEEP, too_long
from cluster_agents.services import world
from cluster_agents.web import entities
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.params import parse
from cluster_agents.web.request import current
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
    openapi_extensions=docs.body(NewGroup),
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
    ),
)
def handle_create_group():
    caller = current_user().user
    params = parse(NewGroup)
    check_path(params.path)
    group = world.create_group(
        caller, params.name, params.path, params.parent_id, params.visibility, params.description
    )
    return respond(entities.group(group), 201)


@router.get(
    "/api/v4/groups/<id>",
    summary="Get a group",
    tags=GROUP_TAGS,
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.USER, e.GroupNotFound()),
)
def handle_get_group(id: str):
    caller = current_user().user
    group, _ = world.visible_group(caller, current().path_param("id"))
    return respond(entities.group(group))
