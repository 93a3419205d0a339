"""Cluster agents (SPEC §2): list, show, register and delete a project's agents."""

from __future__ import annotations

from typing import Annotated

from cluster_agents import errors as e
from cluster_agents.services import agents
from cluster_agents.web import agent_entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.agent_entities import ClusterAgent
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import page_of
from cluster_agents.web.params import Params
from cluster_agents.web.request import current

app = create_app()
TAGS = ["cluster agents"]
INVALID_AGENT_ID = e.InvalidParameters(["agent_id is invalid"])


class NewAgent(Params):
    name: str | None  # required; an explicit null is a blank name, as Grape passes it on


@app.get(
    "/api/v4/projects/<id>/cluster_agents",
    summary="List a project's agents",
    tags=TAGS,
    description="Developer role or above; ordered by name.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        200, docs.USER, docs.PAGE, docs.PROJECT, e.ClusterAgentsNotFound(), paginated=True, model=list[ClusterAgent]
    ),
)
def handle_list_agents(id: typed.ProjectRef, page: typed.PageNumber = 1, per_page: typed.PerPage = 20):
    requested = page_of(page, per_page)
    listing = agents.list_agents(current_user().user, id, requested.offset, requested.size)
    body = [agent_entities.agent(agent, listing.project) for agent in listing.agents]
    return respond(body, headers=page_headers(requested, listing.total))


@app.get(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>",
    summary="Get an agent",
    tags=TAGS,
    description="Developer role or above.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(200, docs.USER, INVALID_AGENT_ID, docs.PROJECT, e.AgentNotFound(), model=ClusterAgent),
)
def handle_get_agent(id: typed.ProjectRef, agent_id: typed.AgentId):
    project, agent = agents.get_agent(current_user().user, id, agent_id)
    return respond(agent_entities.agent(agent, project))


@app.post(
    "/api/v4/projects/<id>/cluster_agents",
    summary="Register an agent",
    tags=TAGS,
    description="Maintainer role or above.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        201,
        docs.USER,
        e.InvalidParameters(["name is missing"]),
        docs.PROJECT,
        docs.FORBIDDEN,
        e.ValidationFailed(["Name has already been taken"]),
        model=ClusterAgent,
    ),
)
def handle_create_agent(id: typed.ProjectRef, params: Annotated[NewAgent, typed.Body()]):
    project, agent = agents.create_agent(current_user().user, id, params.name)
    return respond(agent_entities.agent(agent, project), 201)


@app.delete(
    "/api/v4/projects/<id>/cluster_agents/<agent_id>",
    summary="Delete an agent",
    tags=TAGS,
    description="Maintainer role or above. Deletes the agent's tokens and URL configuration too; "
    "honours If-Unmodified-Since.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        204, docs.USER, INVALID_AGENT_ID, docs.PROJECT, docs.FORBIDDEN, e.AgentNotFound(), e.PreconditionFailed()
    ),
)
def handle_delete_agent(id: typed.ProjectRef, agent_id: typed.AgentId):
    agents.delete_agent(current_user().user, id, agent_id, current().header("if-unmodified-since"))
    return no_content()


lambda_handler = entrypoint(app)
