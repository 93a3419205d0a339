"""Finding a project by id or full path, and the caller's access to it (SPEC §1.2, §1.3)."""

from __future__ import annotations

from cluster_agents import clock
from cluster_agents.domain.access import AccessLevel, ProjectAccess, project_access
from cluster_agents.domain.models import Project, User
from cluster_agents.errors import Forbidden, ProjectNotFound
from cluster_agents.store.directory import directory


def find_project(id_or_path: str) -> Project | None:
    """``42`` is an id; ``group/sub/project`` (already percent-decoded) is a full path."""
    repo = directory()
    if id_or_path.isascii() and id_or_path.isdigit() and len(id_or_path) < 19:
        return repo.get_project(int(id_or_path))
    if "/" in id_or_path and len(id_or_path) <= 1024:
        project_id = repo.find_project_id(id_or_path)
        return repo.get_project(project_id) if project_id else None
    return None


def access_to_project(user: User, id_or_path: str) -> ProjectAccess:
    """The caller's access; 404 Project Not Found when it does not exist or is not visible."""
    project = find_project(id_or_path)
    if project is None:
        raise ProjectNotFound()
    sources = [("project", project.id)] + [("group", group_id) for group_id in project.group_ids]
    memberships = directory().memberships_of(user.id, sources)
    access = project_access(user, project, memberships, clock.today().isoformat())
    if not access.can_see_project:
        raise ProjectNotFound()
    return access


def require(access: ProjectAccess, level: AccessLevel) -> None:
    """``authorize!``: 403 when the caller's role is below ``level``."""
    if not access.at_least(level):
        raise Forbidden()
