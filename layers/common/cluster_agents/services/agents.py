"""Cluster agents (SPEC §2), checked in GitLab's order: the project (404 Project Not Found), the
caller's role, then the agent.

Roles: Developer reads - below that the list is ``404 ClusterAgents Not Found`` and a single
agent ``404 Not found`` (``AgentsFinder`` finds nothing) -, Maintainer writes, else 403 before the
agent is looked up."""

from __future__ import annotations

from dataclasses import dataclass

from cluster_agents import clock
from cluster_agents.domain.access import AccessLevel, ProjectAccess
from cluster_agents.domain.agents import Agent, agent_name_errors
from cluster_agents.domain.models import Project, User
from cluster_agents.domain.preconditions import modified_since
from cluster_agents.errors import AgentNotFound, ClusterAgentsNotFound, PreconditionFailed, ValidationFailed
from cluster_agents.observability import count, logger
from cluster_agents.services.projects import access_to_project, require
from cluster_agents.store.agents import agents

READ_ROLE = AccessLevel.DEVELOPER
WRITE_ROLE = AccessLevel.MAINTAINER


@dataclass(frozen=True)
class AgentPage:
    project: Project
    agents: list[Agent]
    total: int


def readable_project(user: User, project_ref: str) -> ProjectAccess:
    """The project, when the caller may read its agents; else ``404 Not found``."""
    access = access_to_project(user, project_ref)
    if not access.at_least(READ_ROLE):
        raise AgentNotFound()
    return access


def agent_in(project: Project, agent: Agent | None) -> Agent:
    """``AgentsFinder#find``: an agent of another project is not found either."""
    if agent is None or agent.project_id != project.id:
        raise AgentNotFound()
    return agent


def list_agents(user: User, project_ref: str, offset: int, limit: int) -> AgentPage:
    access = access_to_project(user, project_ref)
    if not access.at_least(READ_ROLE):
        raise ClusterAgentsNotFound()
    found, total = agents().list_agents(access.project.id, offset, limit)
    return AgentPage(access.project, found, total)


def get_agent(user: User, project_ref: str, agent_id: int) -> tuple[Project, Agent]:
    project = readable_project(user, project_ref).project
    return project, agent_in(project, agents().get(agent_id))


def create_agent(user: User, project_ref: str, name: str | None) -> tuple[Project, Agent]:
    """``Clusters::Agents::CreateService``: name validations first (all that fail), then the
    store's uniqueness condition (``Name has already been taken``)."""
    access = access_to_project(user, project_ref)
    require(access, WRITE_ROLE)
    messages = agent_name_errors(name)
    if messages or name is None:
        raise ValidationFailed(messages)
    agent = agents().create_agent(access.project.id, name, user.id)
    logger().info("agent created", extra={"agent_id": agent.id, "project_id": agent.project_id})
    count("AgentsCreated")
    return access.project, agent


def delete_agent(user: User, project_ref: str, agent_id: int, if_unmodified_since: str | None = None) -> None:
    """``destroy_conditionally!``: 412 when the agent changed after If-Unmodified-Since; then the
    agent and everything it owns are deleted."""
    access = access_to_project(user, project_ref)
    require(access, WRITE_ROLE)
    repository = agents()
    deletion = repository.prepare_deletion(agent_id)
    if deletion is None or deletion.agent.project_id != access.project.id:
        raise AgentNotFound()
    if modified_since(clock.parse_iso(deletion.agent.updated_at), if_unmodified_since):
        raise PreconditionFailed()
    repository.delete_agent(deletion)
    logger().info("agent deleted", extra={"agent_id": agent_id, "project_id": access.project.id})
    count("AgentsDeleted")
