"""Personal access tokens (SPEC §5): create (for a user, or for yourself), the request's own, revoke."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.services import world
from cluster_agents.web import entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import no_content, respond
from cluster_agents.web.auth import ANY_SCOPE, USERS, current_user
from cluster_agents.web.entities import PersonalAccessTokenEntity, PersonalAccessTokenWithToken
from world_params import NewOwnPersonalAccessToken, NewPersonalAccessToken
from world_shared import ADMIN_ONLY, INVALID_USER_ID

router = Router()
TOKEN_TAGS = ["personal access tokens"]
USER_GUARD = [guards.user(USERS)]


@router.post(
    "/api/v4/users/<user_id>/personal_access_tokens",
    summary="Create a personal access token",
    tags=TOKEN_TAGS,
    description=ADMIN_ONLY + " The only response that carries the token.",
    security=docs.USER_SECURITY,
    middlewares=USER_GUARD,
    responses=docs.responses(
        201,
        docs.user(USERS, "POST"),
        INVALID_USER_ID,
        e.InvalidParameters(["name is missing"]),
        e.InvalidParameters(["scopes does not have a valid value"]),
        docs.FORBIDDEN,
        e.UserNotFound(),
        e.ValidationFailed(["Expiration date must be in the future"]),
        e.ValidationFailed(["Name is too long (maximum is 255 characters)"]),
        model=PersonalAccessTokenWithToken,
    ),
)
def handle_create_personal_access_token(user_id: typed.UserId, params: Annotated[NewPersonalAccessToken, typed.Body()]):
    caller = current_user(USERS).user
    token, secret = world.create_personal_access_token(
        caller, user_id, params.name, params.scopes, params.expires_at, params.description
    )
    return respond(entities.personal_access_token(token, secret), 201)


@router.post(
    "/api/v4/user/personal_access_tokens",
    summary="Create a personal access token for yourself",
    tags=TOKEN_TAGS,
    description="Only the k8s_proxy scope; expires tomorrow unless expires_at says "
    "otherwise (at most a year ahead). The only response that carries the token.",
    security=docs.USER_SECURITY,
    middlewares=USER_GUARD,
    responses=docs.responses(
        201,
        docs.user(USERS, "POST"),
        e.InvalidParameters(["name is missing"]),
        e.InvalidParameters(["scopes does not have a valid value"]),
        e.InvalidParameters(["expires_at is invalid"]),
        e.Unprocessable(["Name can't be blank", "Scopes can't be blank"]),
        e.Unprocessable(["Expiration date must be before 2027-01-01"]),
        e.Unprocessable(["Description is too long (maximum is 255 characters)"]),
        model=PersonalAccessTokenWithToken,
    ),
)
def handle_create_own_personal_access_token(params: Annotated[NewOwnPersonalAccessToken, typed.Body()]):
    caller = current_user(USERS).user
    token, secret = world.create_own_personal_access_token(
        caller, params.name, params.scopes, params.expires_at, params.description
    )
    return respond(entities.personal_access_token(token, secret), 201)


@router.get(
    "/api/v4/personal_access_tokens/self",
    summary="The personal access token of the request",
    tags=TOKEN_TAGS,
    description="Any personal access token, whatever its scopes (k8s_proxy too).",
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.user(ANY_SCOPE, "GET"), model=PersonalAccessTokenEntity),
)
def handle_get_own_personal_access_token():
    token = current_user(ANY_SCOPE).token
    if token is None:  # never: a personal access token is what authenticates a user here
        raise e.Unauthenticated()
    return respond(entities.personal_access_token(token))


@router.delete(
    "/api/v4/personal_access_tokens/<token_id>",
    summary="Revoke a personal access token",
    tags=TOKEN_TAGS,
    description="Its owner or an administrator.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(204, docs.USER, e.InvalidParameters(["token_id is invalid"]), e.NotFound("Not Found")),
)
def handle_revoke_personal_access_token(token_id: typed.TokenId):
    world.revoke_personal_access_token(current_user().user, token_id)
    return no_content()
