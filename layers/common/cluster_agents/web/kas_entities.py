"""The agent server's view of an agent (``API::Internal::Kubernetes`` agent_info, SPEC §7.1)."""

from __future__ import annotations

import hashlib
from typing import Any

from cluster_agents.domain.models import Project
from cluster_agents.services.kas import AgentInfo

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
