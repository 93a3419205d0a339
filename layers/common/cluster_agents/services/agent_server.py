"""The agent server's internal API (SPEC §7): agent token -> agent info, an agent's configuration
(its ci_access authorisations and its user_access state), whether an agent may read a project
(Flux), and the usage metrics and events it reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cluster_agents.crypto import digest
from cluster_agents.domain.agents import Agent
from cluster_agents.domain.models import Group, Project
from cluster_agents.errors import (
    AgentNotFound,
    CiAccessTooLarge,
    InvalidParameters,
    ProjectAccessNotFound,
    StoreBusy,
    Unauthenticated,
)
from cluster_agents.observability import count, identify, logger
from cluster_agents.store.agent_tokens import agent_tokens
from cluster_agents.store.projects import projects

if TYPE_CHECKING:
    from cluster_agents.domain.user_access import UserAccess
    from cluster_agents.store.ci_access import Source

# agent_info, the agent server's request on every connection, needs none of what configuring an
# agent, checking a project or reading telemetry needs: those modules are imported on first use.


@dataclass(frozen=True)
class AgentInfo:
    agent: Agent
    project: Project


def agent_info(token: str | None) -> AgentInfo:
    """The agent behind an active agent token, recording the token's use; 401 otherwise."""
    if not token:
        raise Unauthenticated()
    usage = agent_tokens()
    found = usage.find_active_by_digest(digest(token))
    project = projects().get(found.agent.project_id) if found else None
    if found is None or project is None:
        raise Unauthenticated()
    identify(agent_id=found.agent.id, agent_token_id=found.token_id)
    try:
        if usage.record_use(found):
            count("AgentTokenUseRecorded")
    except StoreBusy:  # as GitLab: tracking a use never fails the agent's request
        logger().warning("agent token use not recorded", extra={"agent_id": found.agent.id, "token_id": found.token_id})
    return AgentInfo(found.agent, project)


def configure_agent(agent_id: int, agent_config: dict[str, Any]) -> None:
    """Replace the agent's ci_access authorisations and its user_access state with those of its
    configuration file: the listed projects and groups that exist under the agent's own top-level
    group (or, for an agent of a personal project, the projects of that namespace). 404 when there
    is no such agent; 400 (CiAccessTooLarge) when a project or group cannot hold the agent's
    authorisation besides the other agents' (400 KB for all of them together).

    Three round trips (four while the container has not read the listed projects and groups yet):
    the agent with its current authorisations and user_access (one Query), the agent's project and
    every listed path of both sections (one BatchGetItem), then one conditional transaction for
    both (more only past 49 ci_access changes)."""
    from cluster_agents.domain import ci_access as rules
    from cluster_agents.domain import user_access as user_rules
    from cluster_agents.store.ci_access import ci_access
    from cluster_agents.store.configured_paths import resolve_configured_paths

    identify(agent_id=agent_id)
    store = ci_access()
    read = store.read_agent(agent_id)
    if read is None:
        raise AgentNotFound()
    agent = read.agent
    project_entries = rules.config_entries(agent_config, "projects")
    group_entries = rules.config_entries(agent_config, "groups")
    user_projects = user_rules.config_paths(agent_config, "projects")
    user_groups = user_rules.config_paths(agent_config, "groups")
    found = resolve_configured_paths(
        agent.project_id, [*project_entries, *user_projects], [*group_entries, *user_groups]
    )
    agent_project = found.agent_project
    if agent_project is None:
        raise AgentNotFound()
    projects = {path: project for path, project in found.projects.items() if rules.in_hierarchy(project, agent_project)}
    groups = {
        path: group
        for path, group in found.groups.items()
        if agent_project.group_ids and group.self_and_ancestor_ids[-1] == agent_project.group_ids[-1]
    }
    wanted: dict[Source, str] = {}
    paths: dict[Source, str] = {}
    for path in project_entries.keys() & projects.keys():
        project = projects[path]
        wanted[("project", project.id)] = rules.canonical_json(project_entries[path])
        paths[("project", project.id)] = project.path_with_namespace
    for path in group_entries.keys() & groups.keys():
        group = groups[path]
        wanted[("group", group.id)] = rules.canonical_json(group_entries[path])
        paths[("group", group.id)] = group.full_path
    user_access = _user_access(
        agent_config,
        [projects[p] for p in user_projects if p in projects],
        [groups[p] for p in user_groups if p in groups],
    )
    try:
        store.replace_for_agent(agent, wanted, read, user_access)
    except CiAccessTooLarge as too_large:
        raise too_large.naming(paths) from None


def _user_access(agent_config: dict[str, Any], projects: list[Project], groups: list[Group]) -> UserAccess | None:
    """The user_access state to store: None when it authorises no project and no group."""
    from cluster_agents.domain import user_access as user_rules
    from cluster_agents.domain.user_access import GroupGrant, ProjectGrant, UserAccess

    if not projects and not groups:
        return None
    return UserAccess(
        config=user_rules.stored_config(agent_config),
        projects=tuple(
            sorted(
                {p.id: ProjectGrant(p.id, p.group_ids, p.personal_owner_id) for p in projects}.values(),
                key=lambda grant: grant.id,
            )
        ),
        groups=tuple(
            sorted({g.id: GroupGrant(g.id, g.ancestor_ids) for g in groups}.values(), key=lambda grant: grant.id)
        ),
    )


def verify_project_access(token: str | None, project_ref: Any) -> None:
    """GitLab's ``verify_project_access``: the agent behind ``token`` (401 otherwise, its use
    recorded) may read the project - id or full path, any case - when it is public or the agent's
    own configuration project; otherwise (private, internal, unknown, no id) 404 Not Found.
    ci_access and user_access authorisations do not count."""
    from cluster_agents.services.projects import find_project

    found = agent_info(token)
    if isinstance(project_ref, int) and not isinstance(project_ref, bool):
        project_ref = str(project_ref)
    project = find_project(project_ref.strip()) if isinstance(project_ref, str) else None
    if project is None or not (project.visibility == "public" or project.id == found.project.id):
        raise ProjectAccessNotFound()


def accept_usage_metrics(params: dict[str, Any]) -> None:
    """Validate the agent server's usage counters as GitLab does (400 with every failure), then
    discard them: there is no product analytics here."""
    from cluster_agents.domain.agent_server_telemetry import usage_metrics_problems

    problems = usage_metrics_problems(params)
    if problems:
        raise InvalidParameters(problems)


def accept_agent_events(params: dict[str, Any]) -> None:
    """Validate the agent server's events as GitLab does (400 with every failure), then discard them."""
    from cluster_agents.domain.agent_server_telemetry import agent_events_problems

    problems = agent_events_problems(params)
    if problems:
        raise InvalidParameters(problems)
