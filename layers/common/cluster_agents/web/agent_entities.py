"""GitLab's JSON entities for agents and agent tokens (``Entities::Clusters::Agent``,
``AgentTokenBasic`` / ``AgentToken`` / ``AgentTokenWithToken``), fields in GitLab's order."""

from __future__ import annotations

from typing import Any, Literal

from cluster_agents.domain.agents import Agent, AgentToken
from cluster_agents.domain.models import Project
from cluster_agents.web.entities import project_identity
from cluster_agents.web.entity import Entity, ProjectIdentity


class ClusterAgent(Entity):
    id: int
    name: str
    config_project: ProjectIdentity
    created_at: str
    created_by_user_id: int
    is_receptive: bool


class AgentTokenBasic(Entity):
    id: int
    name: str
    description: str | None
    agent_id: int
    status: Literal["active", "revoked"]
    created_at: str
    created_by_user_id: int


class AgentTokenDetails(AgentTokenBasic):
    last_used_at: str | None


class AgentTokenWithToken(AgentTokenDetails):
    token: str


def agent(record: Agent, project: Project) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "config_project": project_identity(project),
        "created_at": record.created_at,
        "created_by_user_id": record.created_by_user_id,
        "is_receptive": record.is_receptive,
    }


def agent_token_basic(token: AgentToken) -> dict[str, Any]:
    """The list's shape: no ``last_used_at``."""
    return {
        "id": token.id,
        "name": token.name,
        "description": token.description,
        "agent_id": token.agent_id,
        "status": token.status,
        "created_at": token.created_at,
        "created_by_user_id": token.created_by_user_id,
    }


def agent_token(token: AgentToken) -> dict[str, Any]:
    return {**agent_token_basic(token), "last_used_at": token.last_used_at}


def agent_token_with_token(token: AgentToken, secret: str) -> dict[str, Any]:
    """Only the creating POST shows the secret."""
    return {**agent_token(token), "token": secret}
