"""Projects (SPEC §5): create (in a personal namespace or a group), get."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.domain.naming import path_from_name, too_long
from cluster_agents.errors import RequestRejected
from cluster_agents.services import world
from cluster_agents.web import entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.entities import ProjectEntity
from world_params import NewProject
from world_shared import PATH_RULES, check_path

router = Router()
PROJECT_TAGS = ["projects"]
NAME_OR_PATH = "name, path are missing, at least one parameter must be provided"


@router.post(
    "/api/v4/projects",
    summary="Create a project",
    tags=PROJECT_TAGS,
    security=docs.USER_SECURITY,
    description="In the caller's personal namespace, or in a group where the caller is Maintainer.",
    middlewares=[guards.USER],
    responses=docs.responses(
        201,
        docs.USER,
        e.InvalidParameters(["visibility does not have a valid value"]),
        e.RequestRejected(NAME_OR_PATH),
        PATH_RULES,
        e.ValidationFailed(too_long("Path", "-" * 256)),
        e.NotFound("Namespace Not Found"),
        docs.FORBIDDEN,
        e.ValidationFailed(["Path has already been taken", "Name has already been taken"]),
        model=ProjectEntity,
    ),
)
def handle_create_project(params: Annotated[NewProject, typed.Body()]):
    if not params.name and not params.path:
        raise RequestRejected(NAME_OR_PATH)
    name = params.name or params.path or ""
    path = params.path or path_from_name(name)
    check_path(path)
    project = world.create_project(
        current_user().user, name, path, params.namespace_id, params.description, params.visibility
    )
    return respond(entities.project(project), 201)


@router.get(
    "/api/v4/projects/<id>",
    summary="Get a project",
    tags=PROJECT_TAGS,
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(200, docs.USER, docs.PROJECT, model=ProjectEntity),
)
def handle_get_project(id: typed.ProjectRef):
    return respond(entities.project(world.visible_project(current_user().user, id)))
