"""Who may see and do what: GitLab's access levels, inheritance and visibility."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum

from cluster_agents.domain.models import Membership, Project, User


class AccessLevel(IntEnum):
    NO_ACCESS = 0
    GUEST = 10
    PLANNER = 15
    REPORTER = 20
    DEVELOPER = 30
    MAINTAINER = 40
    OWNER = 50

    @property
    def role_name(self) -> str:
        return self.name.lower()


VALID_ACCESS_LEVELS = frozenset(level.value for level in AccessLevel if level != AccessLevel.NO_ACCESS)


def effective_level(memberships: Iterable[Membership], today: str) -> AccessLevel:
    """The highest unexpired membership (``today`` as YYYY-MM-DD; a membership expires after its date)."""
    levels = [m.access_level for m in memberships if m.expires_at is None or m.expires_at >= today]
    return AccessLevel(max(levels, default=0))


@dataclass(frozen=True)
class ProjectAccess:
    """A caller's standing in one project."""

    project: Project
    level: AccessLevel  # from memberships (and personal ownership)
    is_admin: bool

    @property
    def effective(self) -> AccessLevel:
        return AccessLevel.OWNER if self.is_admin else self.level

    @property
    def can_see_project(self) -> bool:
        return self.project.visibility in ("public", "internal") or self.is_admin or self.level > 0

    def at_least(self, level: AccessLevel) -> bool:
        return self.effective >= level


def project_access(user: User, project: Project, memberships: Iterable[Membership], today: str) -> ProjectAccess:
    level = effective_level(memberships, today)
    if project.personal_owner_id == user.id:
        level = AccessLevel.OWNER
    return ProjectAccess(project, level, user.is_admin)


def roles_up_to(level: AccessLevel) -> list[str]:
    """``roles_in_project``: every role at or below ``level``."""
    return [lvl.role_name for lvl in AccessLevel if AccessLevel.NO_ACCESS < lvl <= level]
