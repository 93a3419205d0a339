"""Users (SPEC §5): the current user, a user, and creating one (administrators)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.domain.naming import too_long, valid_username
from cluster_agents.errors import ValidationFailed
from cluster_agents.services import world
from cluster_agents.web import entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import respond
from cluster_agents.web.auth import USERS, current_user
from cluster_agents.web.entities import UserDetails, UserProfile
from world_params import NewUser
from world_shared import ADMIN_ONLY, INVALID_USER_ID

router = Router()
USER_TAGS = ["users"]
USER_GUARD = [guards.user(USERS)]


@router.get(
    "/api/v4/user",
    summary="The current user",
    tags=USER_TAGS,
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.user(USERS, "GET"), model=UserDetails),
)
def handle_get_current_user():
    caller = current_user(USERS).user
    return respond(entities.user_details(caller, show_private=True))


@router.get(
    "/api/v4/users/<user_id>",
    summary="Get a user",
    tags=USER_TAGS,
    security=docs.USER_SECURITY,
    middlewares=USER_GUARD,
    responses=docs.responses(
        200,
        docs.user(USERS, "GET"),
        INVALID_USER_ID,
        e.UserNotFound(),
        model=UserDetails | UserProfile,
        success_description="OK (the private fields for yourself and administrators)",
    ),
)
def handle_get_user(user_id: typed.UserId):
    caller = current_user(USERS).user
    user = world.get_user(user_id)
    return respond(entities.user_details(user, show_private=caller.is_admin or caller.id == user.id))


@router.post(
    "/api/v4/users",
    summary="Create a user",
    tags=USER_TAGS,
    description=ADMIN_ONLY,
    security=docs.USER_SECURITY,
    middlewares=USER_GUARD,
    responses=docs.responses(
        201,
        docs.user(USERS, "POST"),
        e.InvalidParameters(["email is missing"]),
        e.ValidationFailed(["Email is invalid"]),
        e.ValidationFailed(too_long("Email", "-" * 256)),
        docs.FORBIDDEN,
        e.Conflict("Username has already been taken"),
        model=UserDetails,
    ),
)
def handle_create_user(params: Annotated[NewUser, typed.Body()]):
    caller = current_user(USERS).user
    if not valid_username(params.username):
        raise ValidationFailed(
            [
                "Username can contain only letters, digits, '_', '-' and '.'. "
                "Cannot start with '-' or end in '.', '.git' or '.atom'."
            ]
        )
    if "@" not in params.email:
        raise ValidationFailed(["Email is invalid"])
    user = world.create_user(caller, params.username, params.name, params.email, params.admin)
    return respond(entities.user_details(user, show_private=True), 201)
