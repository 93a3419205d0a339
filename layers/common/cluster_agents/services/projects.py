"""Finding a project by id or full path, and the caller's access to it (SPEC §1.2, §1.3)."""

from __future__ import annotations

from typing import TypeVar

from cluster_agents import clock
from cluster_agents.domain.access import AccessLevel, ProjectAccess, project_access
from cluster_agents.domain.models import Membership, Project, User
from cluster_agents.errors import Forbidden, ProjectNotFound
from cluster_agents.store import dynamo
from cluster_agents.store.memberships import memberships
from cluster_agents.store.projects import projects

T = TypeVar("T")


def find_project(id_or_path: str) -> Project | None:
    """``42`` is an id; ``group/sub/project`` (already percent-decoded) is a full path."""
    repo = projects()
    if id_or_path.isascii() and id_or_path.isdigit() and len(id_or_path) < 19:
        return repo.get(int(id_or_path))
    if "/" in id_or_path:
        project_id = repo.find_id(id_or_path)
        return repo.get(project_id) if project_id else None
    return None


def access_to_project(user: User, id_or_path: str) -> ProjectAccess:
    """The caller's access; 404 Project Not Found when it does not exist or is not visible."""
    project = find_project(id_or_path)
    if project is None:
        raise ProjectNotFound()
    return _access(user, project, memberships().of(user.id, _sources(project)))


def access_to_project_reading(user: User, id_or_path: str, read: dynamo.Read[T]) -> tuple[ProjectAccess, T]:
    """``access_to_project``, with ``read`` (a repository's keys, of any table) made in the same
    BatchGetItem as the caller's memberships, so what the route needs next costs no round trip
    of its own. The checks and their order are ``access_to_project``'s; the caller uses the
    answer only after the checks it makes itself (role, then the thing read)."""
    project = find_project(id_or_path)
    if project is None:
        raise ProjectNotFound()
    found, answer = dynamo.read_together(memberships().reading(user.id, _sources(project)), read)
    return _access(user, project, found), answer


def _sources(project: Project) -> list[tuple[str, int]]:
    return [("project", project.id)] + [("group", group_id) for group_id in project.group_ids]


def _access(user: User, project: Project, memberships: list[Membership]) -> ProjectAccess:
    access = project_access(user, project, memberships, clock.today().isoformat())
    if not access.can_see_project:
        raise ProjectNotFound()
    return access


def require(access: ProjectAccess, level: AccessLevel) -> None:
    """``authorize!``: 403 when the caller's role is below ``level``."""
    if not access.at_least(level):
        raise Forbidden()
