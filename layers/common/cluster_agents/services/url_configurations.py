"""Receptive agents' URL configurations (SPEC §4), checked in GitLab's order: the instance
setting (right after authentication), then the project, the caller's role, the agent, the
configuration.

Roles: Developer reads (SPEC's choice, after GitLab's documentation), Maintainer writes; below
that 403 - the role is checked before the agent is looked at (the agent and its configuration
are read in the same BatchGetItem as the caller's memberships, and used only after the checks)."""

from __future__ import annotations

from cluster_agents import clock
from cluster_agents.domain.access import AccessLevel
from cluster_agents.domain.agents import Agent
from cluster_agents.domain.models import User
from cluster_agents.domain.preconditions import modified_since
from cluster_agents.domain.url_configurations import (
    UrlConfiguration,
    UrlConfigurationRequest,
    prepare_url_configuration,
)
from cluster_agents.errors import (
    AgentNotFound,
    FeatureDisabled,
    PreconditionFailed,
    UrlConfigurationExists,
    UrlConfigurationNotFound,
)
from cluster_agents.observability import count, logger
from cluster_agents.services.projects import access_to_project_reading, require
from cluster_agents.settings import get_settings
from cluster_agents.store.url_configurations import url_configurations

READ_ROLE = AccessLevel.DEVELOPER
WRITE_ROLE = AccessLevel.MAINTAINER


def ensure_receptive_agents_enabled() -> None:
    """GitLab's ``not_found! unless receptive_cluster_agents_enabled`` (404 Not Found)."""
    if not get_settings().receptive_agents_enabled:
        raise FeatureDisabled()


def _agent_for(user: User, project_ref: str, agent_id: int, role: AccessLevel) -> tuple[Agent, UrlConfiguration | None]:
    """The project (404), the caller's role (403), the agent (404), in that order; the agent and
    its configuration are read in the same BatchGetItem as the caller's memberships."""
    access, (agent, configuration) = access_to_project_reading(
        user, project_ref, url_configurations().with_agent_read(agent_id)
    )
    require(access, role)
    if agent is None or agent.project_id != access.project.id:
        raise AgentNotFound()
    return agent, configuration


def _configuration_of(configuration: UrlConfiguration | None, configuration_id: int) -> UrlConfiguration:
    if configuration is None or configuration.id != configuration_id:
        raise UrlConfigurationNotFound()
    return configuration


def list_url_configurations(user: User, project_ref: str, agent_id: int) -> list[UrlConfiguration]:
    """The agent's configurations: none or one (GitLab supports one per agent)."""
    _, configuration = _agent_for(user, project_ref, agent_id, READ_ROLE)
    return [configuration] if configuration else []


def get_url_configuration(user: User, project_ref: str, agent_id: int, configuration_id: int) -> UrlConfiguration:
    _, configuration = _agent_for(user, project_ref, agent_id, READ_ROLE)
    return _configuration_of(configuration, configuration_id)


def create_url_configuration(
    user: User, project_ref: str, agent_id: int, request: UrlConfigurationRequest
) -> UrlConfiguration:
    """Like ``CreateUrlConfigurationService``: an agent that is already receptive is refused
    before the fields are validated; the write itself enforces the limit under any race."""
    agent, _ = _agent_for(user, project_ref, agent_id, WRITE_ROLE)
    if agent.is_receptive:
        raise UrlConfigurationExists()
    draft = prepare_url_configuration(request)
    configuration = url_configurations().create_for_agent(agent, draft, user.id)
    logger().info(
        "url configuration created",
        extra={
            "agent_id": agent.id,
            "url_configuration_id": configuration.id,
            "auth": "jwt" if draft.public_key else "mtls",
        },
    )
    count("UrlConfigurationsCreated")
    return configuration


def delete_url_configuration(
    user: User, project_ref: str, agent_id: int, configuration_id: int, if_unmodified_since: str | None = None
) -> None:
    """``destroy_conditionally!``: 412 when the configuration changed after If-Unmodified-Since."""
    agent, stored = _agent_for(user, project_ref, agent_id, WRITE_ROLE)
    configuration = _configuration_of(stored, configuration_id)
    if modified_since(clock.parse_iso(configuration.updated_at), if_unmodified_since):
        raise PreconditionFailed()
    url_configurations().delete(agent, configuration)
    logger().info("url configuration deleted", extra={"agent_id": agent.id, "url_configuration_id": configuration.id})
    count("UrlConfigurationsDeleted")
