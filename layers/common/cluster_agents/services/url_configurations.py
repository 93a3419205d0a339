"""Receptive agents' URL configurations (SPEC §4), checked in GitLab's order: the instance
setting (right after authentication), then the project, the caller's role, the agent, the
configuration.

Roles: Developer reads (SPEC's choice, after GitLab's documentation), Maintainer writes; below
that 403 - the role is checked before the agent is looked up."""

from __future__ import annotations

from cluster_agents import clock
from cluster_agents.domain.access import AccessLevel
from cluster_agents.domain.agents import Agent
from cluster_agents.domain.models import Project, User
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
from cluster_agents.services.projects import access_to_project, require
from cluster_agents.settings import get_settings
from cluster_agents.store.agents import agents
from cluster_agents.store.url_configurations import url_configurations

READ_ROLE = AccessLevel.DEVELOPER
WRITE_ROLE = AccessLevel.MAINTAINER


def ensure_receptive_agents_enabled() -> None:
    """GitLab's ``not_found! unless receptive_cluster_agents_enabled`` (404 Not Found)."""
    if not get_settings().receptive_agents_enabled:
        raise FeatureDisabled()


def _agent_in(project: Project, agent_id: int) -> Agent:
    agent = agents().get(agent_id)
    if agent is None or agent.project_id != project.id:
        raise AgentNotFound()
    return agent


def _agent_for(user: User, project_ref: str, agent_id: int, role: AccessLevel) -> Agent:
    access = access_to_project(user, project_ref)
    require(access, role)
    return _agent_in(access.project, agent_id)


def _configuration_of(agent: Agent, configuration_id: int) -> UrlConfiguration:
    configuration = url_configurations().for_agent(agent.id)
    if configuration is None or configuration.id != configuration_id:
        raise UrlConfigurationNotFound()
    return configuration


def list_url_configurations(user: User, project_ref: str, agent_id: int) -> list[UrlConfiguration]:
    """The agent's configurations: none or one (GitLab supports one per agent)."""
    agent = _agent_for(user, project_ref, agent_id, READ_ROLE)
    configuration = url_configurations().for_agent(agent.id)
    return [configuration] if configuration else []


def get_url_configuration(user: User, project_ref: str, agent_id: int, configuration_id: int) -> UrlConfiguration:
    agent = _agent_for(user, project_ref, agent_id, READ_ROLE)
    return _configuration_of(agent, configuration_id)


def create_url_configuration(user: User, project_ref: str, agent_id: int,
                             request: UrlConfigurationRequest) -> UrlConfiguration:
    """Like ``CreateUrlConfigurationService``: an agent that is already receptive is refused
    before the fields are validated; the write itself enforces the limit under any race."""
    agent = _agent_for(user, project_ref, agent_id, WRITE_ROLE)
    if agent.is_receptive:
        raise UrlConfigurationExists()
    draft = prepare_url_configuration(request)
    configuration = url_configurations().create_for_agent(agent, draft, user.id)
    logger().info("url configuration created", extra={
        "agent_id": agent.id, "url_configuration_id": configuration.id, "auth": "jwt" if draft.public_key else "mtls",
    })
    count("UrlConfigurationsCreated")
    return configuration


def delete_url_configuration(user: User, project_ref: str, agent_id: int, configuration_id: int,
                             if_unmodified_since: str | None = None) -> None:
    """``destroy_conditionally!``: 412 when the configuration changed after If-Unmodified-Since."""
    agent = _agent_for(user, project_ref, agent_id, WRITE_ROLE)
    configuration = _configuration_of(agent, configuration_id)
    if modified_since(clock.parse_iso(configuration.updated_at), if_unmodified_since):
        raise PreconditionFailed()
    url_configurations().delete(agent, configuration)
    logger().info("url configuration deleted", extra={"agent_id": agent.id, "url_configuration_id": configuration.id})
    count("UrlConfigurationsDeleted")
