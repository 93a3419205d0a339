"""Agent tokens (SPEC §3), checked in GitLab's order: the project, the caller's role, the agent,
then the token.

Developer reads (below: ``404 Not found``), Maintainer creates and revokes (below: 403, before the
agent is looked up). Only active tokens are listed or shown; revoking keeps the record."""

from __future__ import annotations

from cluster_agents import crypto
from cluster_agents.domain.agents import TOKEN_LIMIT, AgentToken, by_last_use, new_token_secret, token_field_errors
from cluster_agents.domain.models import User
from cluster_agents.errors import AgentTokenNotFound, TokenLimitReached, ValidationFailed
from cluster_agents.observability import count, logger
from cluster_agents.services.agents import WRITE_ROLE, agent_in, readable_project
from cluster_agents.services.projects import access_to_project, require
from cluster_agents.store.agent_tokens import agent_tokens
from cluster_agents.store.agents import agents


def list_tokens(user: User, project_ref: str, agent_id: int) -> list[AgentToken]:
    """The agent's active tokens, most recently used first, never used last, ties by id."""
    project = readable_project(user, project_ref).project
    agent, tokens = agent_tokens().list_active(agent_id)
    agent_in(project, agent)
    return by_last_use(tokens)


def get_token(user: User, project_ref: str, agent_id: int, token_id: int) -> AgentToken:
    """An active token (a revoked one is not found)."""
    project = readable_project(user, project_ref).project
    agent, stored = agent_tokens().get_with_agent(agent_id, token_id)
    agent_in(project, agent)
    if stored is None or not stored.token.active:
        raise AgentTokenNotFound()
    return stored.token


def create_token(
    user: User, project_ref: str, agent_id: int, name: str | None, description: str | None
) -> tuple[AgentToken, str]:
    """A new active token and its secret (shown once). The two-token limit is checked before the
    fields are validated; the write itself enforces it under any concurrency."""
    access = access_to_project(user, project_ref)
    require(access, WRITE_ROLE)
    messages = token_field_errors(name, description)
    if messages or name is None:
        agent = agent_in(access.project, agents().get(agent_id))
        if agent.active_tokens >= TOKEN_LIMIT:
            raise TokenLimitReached()
        raise ValidationFailed(messages)
    secret = new_token_secret()
    token = agent_tokens().create_token_within_limit(
        access.project.id, agent_id, name, description, user.id, crypto.digest(secret)
    )
    logger().info("agent token created", extra={"agent_id": agent_id, "token_id": token.id})
    count("AgentTokensCreated")
    return token, secret


def revoke_token(user: User, project_ref: str, agent_id: int, token_id: int) -> None:
    """Revoke a token of the agent (active or already revoked: both succeed)."""
    access = access_to_project(user, project_ref)
    require(access, WRITE_ROLE)
    repository = agent_tokens()
    agent, stored = repository.get_with_agent(agent_id, token_id)
    agent_in(access.project, agent)
    if stored is None:
        raise AgentTokenNotFound()
    repository.revoke(stored)
    logger().info("agent token revoked", extra={"agent_id": agent_id, "token_id": token_id})
    count("AgentTokensRevoked")
