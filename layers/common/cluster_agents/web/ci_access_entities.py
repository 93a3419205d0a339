"""``GET /job/allowed_agents`` as GitLab renders it (``API::Ci::Jobs``, SPEC §6.1)."""

from __future__ import annotations

from typing import Any

from cluster_agents.services.ci_jobs import AllowedAgent, AllowedAgents
from cluster_agents.web.entities import project_identity


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
