"""What an agent's configuration names (its ``ci_access`` and ``user_access`` project and group
paths), resolved to projects and groups with the fewest reads: the project pointers
(``PROJECTPATH#``), the namespaces (``NAMESPACE#``), then the projects and groups themselves, all in
the directory table (key layout: ``store/keys.py``), through the projects' and groups' caches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cluster_agents.domain.models import Group, Project
from cluster_agents.store import dynamo
from cluster_agents.store.groups import groups
from cluster_agents.store.keys import GROUP_PK_PREFIX, Key, group_key, namespace_key, project_key, project_path_key
from cluster_agents.store.projects import projects


@dataclass(frozen=True)
class ConfiguredPaths:
    """An agent's configuration project and the ci_access paths that name a project or group."""

    agent_project: Project | None
    projects: dict[str, Project]  # by lower-case full path
    groups: dict[str, Group]


def resolve_configured_paths(
    agent_project_id: int, project_paths: Iterable[str], group_paths: Iterable[str]
) -> ConfiguredPaths:
    """The agent's project, and what the ``ci_access`` project and group paths name: one
    BatchGetItem for the agent's project and every path pointer together, then one more only
    for projects and groups not cached yet."""
    project_store, group_store = projects(), groups()
    cached = project_store.cached(agent_project_id)
    if cached is not None and not cached.group_ids:
        group_paths = ()  # an agent of a personal project authorises no group
    project_pointers = {path: project_path_key(path) for path in dict.fromkeys(path.lower() for path in project_paths)}
    group_pointers = {path: namespace_key(path) for path in dict.fromkeys(path.lower() for path in group_paths)}
    own = [] if cached is not None else [project_key(agent_project_id)]
    found = _batch_get(project_store.table, [*own, *project_pointers.values(), *group_pointers.values()])
    for key in own:
        if key in found:
            project_store.remember(found[key])
    agent_project = project_store.cached(agent_project_id)
    if agent_project is None:
        return ConfiguredPaths(None, {}, {})
    project_ids = {path: found[key]["project_id"] for path, key in project_pointers.items() if key in found}
    group_ids = {
        path: found[key]["id"]
        for path, key in group_pointers.items()
        if agent_project.group_ids and key in found and found[key].get("kind") == "group"
    }
    missing = [project_key(pid) for pid in dict.fromkeys(project_ids.values()) if project_store.cached(pid) is None]
    missing += [group_key(gid) for gid in dict.fromkeys(group_ids.values()) if group_store.cached(gid) is None]
    for key, item in _batch_get(project_store.table, missing).items():
        if key[0].startswith(GROUP_PK_PREFIX):
            group_store.remember(item)
        else:
            project_store.remember(item)
    resolved_projects = {path: project_store.cached(pid) for path, pid in project_ids.items()}
    resolved_groups = {path: group_store.cached(gid) for path, gid in group_ids.items()}
    return ConfiguredPaths(
        agent_project=agent_project,
        projects={path: project for path, project in resolved_projects.items() if project is not None},
        groups={path: group for path, group in resolved_groups.items() if group is not None},
    )


def _batch_get(table: str, keys: list[Key]) -> dict[Key, dict[str, Any]]:
    """BatchGetItem: one round trip up to 100 keys (DynamoDB's limit per request)."""
    return dynamo.batch_get({table: keys})[table]
