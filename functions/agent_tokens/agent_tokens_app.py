"""Agent tokens (SPEC §3): list an agent's active tokens, show, create and revoke one."""

from __future__ import annotations

from cluster_agents import errors as e
from cluster_agents.errors import InvalidParameters
from cluster_agents.services import agent_tokens
from cluster_agents.web import agent_entities
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import requested_page
from cluster_agents.web.params import Params, PathId, parse
from cluster_agents.web.request import current

app = create_app()
TAGS = ["agent tokens"]
INVALID_IDS = (e.InvalidParameters(["agent_id is invalid"]), e.InvalidParameters(["token_id is invalid"]))


class AgentRef(Params):
    agent_id: PathId


class TokenRef(Params):
    agent_id: PathId
    token_id: PathId


class NewToken(Params):
    agent_id: PathId
    name: str | None  # required; an explicit null is a blank name
    description: str | None = None


@app.get(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens",
    summary="List an agent's active tokens",
    tags=TAGS,
    description="Developer role or above. Active tokens only, without last_used_at; most recently used first.",
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.USER, INVALID_IDS, docs.PAGE, docs.PROJECT, e.AgentNotFound(), paginated=True),
)
def handle_list_agent_tokens(id: str, agent_id: str):
    caller = current_user().user
    problems: list[str] = []
    try:
        ref = parse(AgentRef, extra={"agent_id": agent_id})
    except InvalidParameters as error:  # Grape reports the path's and the pagination's together
        problems += error.messages
    try:
        page = requested_page()
    except InvalidParameters as error:
        problems += error.messages
    if problems:
        raise InvalidParameters(problems)
    tokens = agent_tokens.list_tokens(caller, current().path_param("id"), ref.agent_id)
    shown = tokens[page.offset : page.offset + page.size]
    return respond([agent_entities.agent_token_basic(t) for t in shown], headers=page_headers(page, len(tokens)))


@app.get(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens/<token_id>",
    summary="Get an active agent token",
    tags=TAGS,
    description="Developer role or above. A revoked token is not found.",
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.USER, INVALID_IDS, docs.PROJECT, e.AgentNotFound(), e.AgentTokenNotFound()),
)
def handle_get_agent_token(id: str, agent_id: str, token_id: str):
    caller = current_user().user
    ref = parse(TokenRef, extra={"agent_id": agent_id, "token_id": token_id})
    token = agent_tokens.get_token(caller, current().path_param("id"), ref.agent_id, ref.token_id)
    return respond(agent_entities.agent_token(token))


@app.post(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens",
    summary="Create an agent token",
    tags=TAGS,
    description="Maintainer role or above. At most two active tokens per agent; the only response that "
    "carries the token.",
    security=docs.USER_SECURITY,
    openapi_extensions=docs.body(NewToken),
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
    ),
)
def handle_create_agent_token(id: str, agent_id: str):
    caller = current_user().user
    params = parse(NewToken, extra={"agent_id": agent_id})
    token, secret = agent_tokens.create_token(
        caller, current().path_param("id"), params.agent_id, params.name, params.description
    )
    return respond(agent_entities.agent_token_with_token(token, secret), 201)


@app.delete(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>/tokens/<token_id>",
    summary="Revoke an agent token",
    tags=TAGS,
    description="Maintainer role or above. The record stays, revoked; revoking twice is fine.",
    security=docs.USER_SECURITY,
    responses=docs.responses(
        204, docs.USER, INVALID_IDS, docs.PROJECT, docs.FORBIDDEN, e.AgentNotFound(), e.AgentTokenNotFound()
    ),
)
def handle_revoke_agent_token(id: str, agent_id: str, token_id: str):
    caller = current_user().user
    ref = parse(TokenRef, extra={"agent_id": agent_id, "token_id": token_id})
    agent_tokens.revoke_token(caller, current().path_param("id"), ref.agent_id, ref.token_id)
    return no_content()


lambda_handler = entrypoint(app)
