"""Agent tokens (SPEC §3): list an agent's active tokens, show, create and revoke one."""

from __future__ import annotations

from typing import Annotated

from cluster_agents import errors as e
from cluster_agents.services import agent_tokens
from cluster_agents.web import agent_entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.agent_entities import AgentTokenBasic, AgentTokenDetails, AgentTokenWithToken
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import page_of
from cluster_agents.web.params import Params

app = create_app()
TAGS = ["agent tokens"]
INVALID_IDS = (e.InvalidParameters(["agent_id is invalid"]), e.InvalidParameters(["token_id is invalid"]))


class NewToken(Params):
    name: str | None  # required; an explicit null is a blank name
    description: str | None = None


@app.get(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens",
    summary="List an agent's active tokens",
    tags=TAGS,
    description="Developer role or above. Active tokens only, without last_used_at; most recently used first.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        200,
        docs.USER,
        INVALID_IDS,
        docs.PAGE,
        docs.PROJECT,
        e.AgentNotFound(),
        paginated=True,
        model=list[AgentTokenBasic],
    ),
)
def handle_list_agent_tokens(
    id: typed.ProjectRef, agent_id: typed.AgentId, page: typed.PageNumber = 1, per_page: typed.PerPage = 20
):
    requested = page_of(page, per_page)
    tokens = agent_tokens.list_tokens(current_user().user, id, agent_id)
    shown = tokens[requested.offset : requested.offset + requested.size]
    return respond([agent_entities.agent_token_basic(t) for t in shown], headers=page_headers(requested, len(tokens)))


@app.get(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens/<token_id>",
    summary="Get an active agent token",
    tags=TAGS,
    description="Developer role or above. A revoked token is not found.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        200, docs.USER, INVALID_IDS, docs.PROJECT, e.AgentNotFound(), e.AgentTokenNotFound(), model=AgentTokenDetails
    ),
)
def handle_get_agent_token(id: typed.ProjectRef, agent_id: typed.AgentId, token_id: typed.TokenId):
    token = agent_tokens.get_token(current_user().user, id, agent_id, token_id)
    return respond(agent_entities.agent_token(token))


@app.post(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens",
    summary="Create an agent token",
    tags=TAGS,
    description="Maintainer role or above. At most two active tokens per agent; the only response that "
    "carries the token.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        201,
        docs.USER,
        INVALID_IDS,
        e.InvalidParameters(["name is missing"]),
        docs.PROJECT,
        docs.FORBIDDEN,
        e.AgentNotFound(),
        e.TokenLimitReached(),
        e.ValidationFailed(["Name can't be blank"]),
        model=AgentTokenWithToken,
    ),
)
def handle_create_agent_token(id: typed.ProjectRef, agent_id: typed.AgentId, params: Annotated[NewToken, typed.Body()]):
    token, secret = agent_tokens.create_token(current_user().user, id, agent_id, params.name, params.description)
    return respond(agent_entities.agent_token_with_token(token, secret), 201)


@app.delete(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens/<token_id>",
    summary="Revoke an agent token",
    tags=TAGS,
    description="Maintainer role or above. The record stays, revoked; revoking twice is fine.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        204, docs.USER, INVALID_IDS, docs.PROJECT, docs.FORBIDDEN, e.AgentNotFound(), e.AgentTokenNotFound()
    ),
)
def handle_revoke_agent_token(id: typed.ProjectRef, agent_id: typed.AgentId, token_id: typed.TokenId):
    agent_tokens.revoke_token(current_user().user, id, agent_id, token_id)
    return no_content()


lambda_handler = entrypoint(app)
