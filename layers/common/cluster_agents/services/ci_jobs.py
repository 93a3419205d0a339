"""``GET /job/allowed_agents`` (SPEC §6.1): what a running job may reach through which agent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cluster_agents import clock
from cluster_agents.domain import ci_access as rules
from cluster_agents.domain.access import project_access, roles_up_to
from cluster_agents.domain.ci_access import Authorization
from cluster_agents.domain.models import Job, Project, User
from cluster_agents.errors import Unauthenticated
from cluster_agents.observability import identify
from cluster_agents.store.ci_access import StoredAuthorization, ci_access
from cluster_agents.store.directory import directory


@dataclass(frozen=True)
class AllowedAgent:
    agent_id: int
    config_project: Project
    configuration: dict[str, Any]


@dataclass(frozen=True)
class AllowedAgents:
    job: Job
    project: Project
    user: User
    roles_in_project: list[str]
    agents: list[AllowedAgent]


def allowed_agents(job: Job) -> AllowedAgents:
    identify(job_id=job.id)
    project = directory().get_project(job.project_id)  # cached once read: projects never change
    if project is None:  # a job outlives neither its project nor its user; treat it as a stale token
        raise Unauthenticated()
    sources = [("project", project.id)] + [("group", group_id) for group_id in project.group_ids]
    user, memberships = directory().get_user_and_memberships(job.user_id, sources)  # one round trip
    if user is None:
        raise Unauthenticated()
    # The user's role from memberships (and personal ownership) only: an administrator who is not a
    # member has none, as GitLab's project.team.max_member_access says.
    level = project_access(user, project, memberships, clock.today().isoformat()).level
    environment = job.environment.name if job.environment else None
    found, agent_projects = _authorizations(project)
    applicable = rules.filter_for_job(found, environment, job.ref_protected)
    agents = [AllowedAgent(a.agent_id, agent_projects[a.agent_id], a.configuration) for a in applicable]
    return AllowedAgents(job, project, user, roles_up_to(level), agents)


def _authorizations(project: Project) -> tuple[list[Authorization], dict[int, Project]]:
    """One authorisation per agent for ``project`` (before the job's filters), and each agent's
    configuration project.

    A ``CIACCESS#`` item never outlives its agent (the agent's deletion removes it first or with
    the agent), and it names the agent's configuration project; the project's own agents come from
    its name index, which goes with the agent in one transaction. So what these read are live
    agents, with no further read to check."""
    store = ci_access()
    project_entries = store.authorizing("project", project.id)
    group_entries = [entry for group_id in project.group_ids for entry in store.authorizing("group", group_id)]
    implicit_ids = store.agent_ids_of_project(project.id)
    explicit = project_entries + group_entries
    configuration_projects = directory().get_projects(entry.agent_project_id for entry in explicit)
    agent_projects = {agent_id: project for agent_id in implicit_ids}
    for entry in explicit:
        if entry.agent_project_id in configuration_projects:
            agent_projects.setdefault(entry.agent_id, configuration_projects[entry.agent_project_id])

    def eligible(entries: list[StoredAuthorization]) -> list[Authorization]:
        return [
            Authorization(entry.agent_id, entry.kind, entry.configuration,
                          entry.source_id if entry.kind == "group" else None)
            for entry in entries
            if entry.agent_id in agent_projects and rules.in_hierarchy(project, agent_projects[entry.agent_id])
            and rules.access_as_available(entry.configuration)
        ]

    implicit = [Authorization(agent_id, "implicit") for agent_id in implicit_ids]
    return rules.choose(eligible(project_entries), implicit, eligible(group_entries), project.group_ids), agent_projects
