"""Cluster agents (SPEC §2): list, show, register and delete a project's agents."""

from __future__ import annotations

from cluster_agents.services import agents
from cluster_agents.web import agent_entities
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import requested_page
from cluster_agents.web.params import Params, PathId, parse
from cluster_agents.web.request import current

app = create_app()


class AgentRef(Params):
    agent_id: PathId


class NewAgent(Params):
    name: str | None  # required; an explicit null is a blank name, as Grape passes it on


@app.get("/api/v4/projects/<id>/cluster_agents")
def handle_list_agents(id: str):
    caller = current_user().user
    page = requested_page()
    listing = agents.list_agents(caller, current().path_param("id"), page.offset, page.size)
    body = [agent_entities.agent(agent, listing.project) for agent in listing.agents]
    return respond(body, headers=page_headers(page, listing.total))


@app.get("/api/v4/projects/<id>/cluster_agents/<agent_id>")
def handle_get_agent(id: str, agent_id: str):
    caller = current_user().user
    ref = parse(AgentRef, extra={"agent_id": agent_id})
    project, agent = agents.get_agent(caller, current().path_param("id"), ref.agent_id)
    return respond(agent_entities.agent(agent, project))


@app.post("/api/v4/projects/<id>/cluster_agents")
def handle_create_agent(id: str):
    caller = current_user().user
    params = parse(NewAgent)
    project, agent = agents.create_agent(caller, current().path_param("id"), params.name)
    return respond(agent_entities.agent(agent, project), 201)


@app.delete("/api/v4/projects/<id>/cluster_agents/<agent_id>")
def handle_delete_agent(id: str, agent_id: str):
    caller = current_user().user
    ref = parse(AgentRef, extra={"agent_id": agent_id})
    request = current()
    agents.delete_agent(caller, request.path_param("id"), ref.agent_id, request.header("if-unmodified-since"))
    return no_content()


lambda_handler = entrypoint(app)
