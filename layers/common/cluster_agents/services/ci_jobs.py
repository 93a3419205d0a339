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
from cluster_agents.store import dynamo
from cluster_agents.store.ci_access import Source, StoredAuthorization, ci_access
from cluster_agents.store.memberships import memberships
from cluster_agents.store.projects import projects
from cluster_agents.store.users import users


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
    project = projects().get(job.project_id)  # cached once read: projects never change
    if project is None:  # a job outlives neither its project nor its user; treat it as a stale token
        raise Unauthenticated()
    sources: list[Source] = [("project", project.id), *(("group", group_id) for group_id in project.group_ids)]
    # One round trip: the user, their memberships and every agent's authorisation of the project
    # and its groups.
    user, found_memberships, found = dynamo.read_together(
        users().reading(job.user_id), memberships().reading(job.user_id, sources), ci_access().authorizing(sources)
    )
    if user is None:
        raise Unauthenticated()
    found = ci_access().with_configurations(found)  # one more BatchGetItem only for long configurations
    # The user's role from memberships (and personal ownership) only: an administrator who is not a
    # member has none, as GitLab's project.team.max_member_access says.
    level = project_access(user, project, found_memberships, clock.today().isoformat()).level
    environment = job.environment.name if job.environment else None
    chosen, agent_projects = _authorizations(project, found)
    applicable = rules.filter_for_job(chosen, environment, job.ref_protected)
    agents = [AllowedAgent(a.agent_id, agent_projects[a.agent_id], a.configuration) for a in applicable]
    return AllowedAgents(job, project, user, roles_up_to(level), agents)


def _authorizations(
    project: Project, found: list[StoredAuthorization]
) -> tuple[list[Authorization], dict[int, Project]]:
    """One authorisation per agent for ``project`` (before the job's filters), out of ``found`` (the
    entries of the project's and its groups' ``CIACCESS#`` items), and each agent's configuration
    project.

    An entry never outlives its agent (the agent's deletion removes it first or with the agent),
    and it names the agent's configuration project; the project's own agents come from its name
    index, which goes with the agent in one transaction. So what these read are live agents, with
    no further read to check."""
    project_entries = [entry for entry in found if entry.kind == "project"]
    group_entries = [entry for entry in found if entry.kind == "group"]
    implicit_ids = ci_access().agent_ids_of_project(project.id)
    configuration_projects = projects().get_many(entry.agent_project_id for entry in found)
    agent_projects = {agent_id: project for agent_id in implicit_ids}
    for entry in found:
        if entry.agent_project_id in configuration_projects:
            agent_projects.setdefault(entry.agent_id, configuration_projects[entry.agent_project_id])

    def eligible(entries: list[StoredAuthorization]) -> list[Authorization]:
        return [
            Authorization(
                entry.agent_id, entry.kind, entry.configuration, entry.source_id if entry.kind == "group" else None
            )
            for entry in entries
            if entry.agent_id in agent_projects
            and rules.in_hierarchy(project, agent_projects[entry.agent_id])
            and entry.configuration is not None  # always read by now (``with_configurations``)
            and rules.access_as_available(entry.configuration)
        ]

    implicit = [Authorization(agent_id, "implicit") for agent_id in implicit_ids]
    return rules.choose(eligible(project_entries), implicit, eligible(group_entries), project.group_ids), agent_projects
