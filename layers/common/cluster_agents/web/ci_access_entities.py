"""``GET /job/allowed_agents`` as GitLab renders it (``API::Ci::Jobs``, SPEC §6.1)."""

from __future__ import annotations

from typing import Any

from cluster_agents.services.ci_jobs import AllowedAgent, AllowedAgents
from cluster_agents.web.entities import project_identity
from cluster_agents.web.entity import Entity, ProjectIdentity


class CiAccessAgent(Entity):
    id: int
    config_project: ProjectIdentity
    configuration: dict[str, Any]


class IdOnly(Entity):
    id: int


class JobProject(Entity):
    id: int
    groups: list[IdOnly]


class JobUser(Entity):
    id: int
    username: str
    roles_in_project: list[str]


class AllowedAgentsEnvironment(Entity):
    tier: str
    slug: str


class AllowedAgentsBody(Entity):
    """``environment`` only for a job that deploys to one."""

    allowed_agents: list[CiAccessAgent]
    job: IdOnly
    pipeline: IdOnly
    project: JobProject
    user: JobUser
    environment: AllowedAgentsEnvironment | None = None


def allowed_agent(agent: AllowedAgent) -> dict[str, Any]:
    """``Entities::Clusters::Agents::Authorizations::CiAccess``."""
    return {
        "id": agent.agent_id,
        "config_project": project_identity(agent.config_project),
        "configuration": agent.configuration,
    }


def allowed_agents(result: AllowedAgents) -> dict[str, Any]:
    body: dict[str, Any] = {
        "allowed_agents": [allowed_agent(agent) for agent in result.agents],
        "job": {"id": result.job.id},
        "pipeline": {"id": result.job.pipeline_id},
        "project": {"id": result.project.id, "groups": [{"id": group_id} for group_id in result.project.group_ids]},
        "user": {"id": result.user.id, "username": result.user.username, "roles_in_project": result.roles_in_project},
    }
    environment = result.job.environment
    if environment is not None:
        body["environment"] = {"tier": environment.tier, "slug": environment.slug}
    return body
