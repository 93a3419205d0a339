"""The agent server's view of an agent (``API::Internal::Kubernetes`` agent_info, SPEC §7.1) and
of a user it proxies for (``authorize_proxy_user``, SPEC §7.4)."""

from __future__ import annotations

import hashlib
from typing import Any

from cluster_agents.domain.models import Project
from cluster_agents.services.agent_server import AgentInfo
from cluster_agents.services.user_access import ProxyAuthorization
from cluster_agents.web.entity import Entity


class GitalyInfo(Entity):
    address: str
    token: str
    features: dict[str, str]


class GitalyRepository(Entity):
    storage_name: str
    relative_path: str
    git_object_directory: str
    git_alternate_object_directories: list[str]
    gl_repository: str
    gl_project_path: str


class AgentInfoBody(Entity):
    project_id: int
    agent_id: int
    agent_name: str
    gitaly_info: GitalyInfo
    gitaly_repository: GitalyRepository
    default_branch: str


class ProxiedAgentProject(Entity):
    id: int


class ProxiedAgent(Entity):
    id: int
    config_project: ProxiedAgentProject


class ProxiedUser(Entity):
    id: int
    username: str


class AccessThrough(Entity):
    id: int
    roles: list[str]


class AccessAsUserVia(Entity):
    projects: list[AccessThrough]
    groups: list[AccessThrough]


class AccessAsUser(Entity):
    user: AccessAsUserVia


class AccessAsAgent(Entity):
    agent: dict[str, Any]


class ProxyAuthorizationBody(Entity):
    """``access_as``: ``{"agent": {}}`` or ``{"user": {"projects": [...], "groups": [...]}}``."""

    agent: ProxiedAgent
    user: ProxiedUser
    access_as: AccessAsAgent | AccessAsUser


# There is no Gitaly behind this service; the agent server needs the objects, so they carry the
# values of a default Omnibus installation.
GITALY_ADDRESS = "unix:/var/opt/gitlab/gitaly/gitaly.socket"
GITALY_TOKEN = ""
GITALY_STORAGE = "default"


def gitaly_info() -> dict[str, Any]:
    """``Gitlab::GitalyClient.connection_data`` plus the Gitaly feature flags (none)."""
    return {"address": GITALY_ADDRESS, "token": GITALY_TOKEN, "features": {}}


def gitaly_repository(project: Project) -> dict[str, Any]:
    """``project.repository.gitaly_repository.to_h``: every field of Gitaly's Repository message,
    the relative path in GitLab's hashed storage layout."""
    digest = hashlib.sha256(str(project.id).encode("ascii")).hexdigest()
    return {
        "storage_name": GITALY_STORAGE,
        "relative_path": f"@hashed/{digest[:2]}/{digest[2:4]}/{digest}.git",
        "git_object_directory": "",
        "git_alternate_object_directories": [],
        "gl_repository": f"project-{project.id}",
        "gl_project_path": project.path_with_namespace,
    }


def agent_info(info: AgentInfo) -> dict[str, Any]:
    return {
        "project_id": info.project.id,
        "agent_id": info.agent.id,
        "agent_name": info.agent.name,
        "gitaly_info": gitaly_info(),
        "gitaly_repository": gitaly_repository(info.project),
        "default_branch": info.project.default_branch or "main",
    }


def proxy_authorization(found: ProxyAuthorization) -> dict[str, Any]:
    """``authorize_proxy_user``'s 201 (GitLab's ``AuthorizeProxyUserService`` payload)."""
    if found.mode == "agent":
        access_as: dict[str, Any] = {"agent": {}}
    else:
        access_as = {
            "user": {
                "projects": [{"id": a.id, "roles": a.roles} for a in found.through if a.kind == "project"],
                "groups": [{"id": a.id, "roles": a.roles} for a in found.through if a.kind == "group"],
            }
        }
    return {
        "agent": {"id": found.agent.id, "config_project": {"id": found.agent.project_id}},
        "user": {"id": found.user.id, "username": found.user.username},
        "access_as": access_as,
    }
