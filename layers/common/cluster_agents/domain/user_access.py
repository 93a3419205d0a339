"""User access (SPEC §7.4): what an agent's ``user_access`` configuration grants, and to whom.
GitLab's ``Clusters::Agents::Authorizations::UserAccess`` (RefreshService, Finder) and
``Clusters::Agents::AuthorizeProxyUserService`` (with EE's ``access_as: user``) as pure functions.

- RefreshService: the first 500 ``user_access.projects`` / ``user_access.groups`` entries, by
  lower-cased ``id``; each authorisation stored with ``user_access.slice("access_as")`` (``{}``
  without it) - the same for every project and group, so it is kept once per agent here.
- Finder: a user is authorised through a stored project where their role (§1.3) is at least
  Developer, through a stored group where they are a *direct* member of it or of an ancestor with
  at least Developer; an administrator through all of them, as Owner.
- AuthorizeProxyUserService: the 403 messages, in its order.

A stored grant carries the project's groups (or the group's ancestors) and a personal project's
owner, as the configuration request found them: groups and projects never move, so the
authorisation needs no read of the directory's records, only of the user's memberships."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from cluster_agents.domain.access import AccessLevel, effective_level, roles_up_to
from cluster_agents.domain.ci_access import AUTHORIZED_ENTITY_LIMIT, canonical_json
from cluster_agents.domain.models import Membership, User

NO_USER_ACCESS = "`user_access` keyword is not found in agent config file."
NO_ACCESS_AS = "`access_as` is not found under the `user_access` keyword."
ACCESS_AS_NOT_ONCE = "`access_as` must exist only once under the `user_access` keyword."
NOT_A_MEMBER = "You must be a member of `projects` or `groups` under the `user_access` keyword."
MINIMUM_LEVEL = AccessLevel.DEVELOPER

Mode = Literal["agent", "user"]


@dataclass(frozen=True)
class ProjectGrant:
    """A project the agent's ``user_access`` names: its group and that group's ancestors (nearest
    first; none for a personal project), and the user owning it when it is personal."""

    id: int
    group_ids: tuple[int, ...] = ()
    owner_id: int | None = None


@dataclass(frozen=True)
class GroupGrant:
    id: int
    ancestor_ids: tuple[int, ...] = ()  # nearest parent first

    @property
    def self_and_ancestor_ids(self) -> tuple[int, ...]:
        return (self.id, *self.ancestor_ids)


@dataclass(frozen=True)
class UserAccess:
    """An agent's user-access state: the configuration (``{}`` or ``{"access_as": ...}`` as
    canonical JSON) and the projects and groups it authorises, by id. It exists only while at
    least one project or group is stored."""

    config: str
    projects: tuple[ProjectGrant, ...] = ()
    groups: tuple[GroupGrant, ...] = ()

    @property
    def access_as(self) -> dict[str, Any]:
        """The stored configuration: ``{}`` or ``{"access_as": ...}``."""
        return json.loads(self.config)


@dataclass(frozen=True)
class Authorized:
    """A stored project or group the user is authorised through, and their level there."""

    kind: Literal["project", "group"]
    id: int
    level: AccessLevel

    @property
    def roles(self) -> list[str]:
        return roles_up_to(self.level)


# ---------------------------------------------------------------- the configuration (RefreshService)
def _section(agent_config: Any) -> dict[str, Any] | None:
    section = agent_config.get("user_access") if isinstance(agent_config, dict) else None
    return section if isinstance(section, dict) else None


def config_paths(agent_config: Any, entity: Literal["projects", "groups"]) -> list[str]:
    """``user_access.<entity>``: the lower-cased ``id`` of its first 500 entries, once each (an
    entry that is not an object with a string ``id`` is skipped)."""
    section = _section(agent_config)
    entries = section.get(entity) if section else None
    if not isinstance(entries, list):
        return []
    paths = (
        entry["id"].lower()
        for entry in entries[:AUTHORIZED_ENTITY_LIMIT]
        if isinstance(entry, dict) and isinstance(entry.get("id"), str)
    )
    return list(dict.fromkeys(paths))


def stored_config(agent_config: Any) -> str:
    """What is stored with the authorisations: ``user_access.slice("access_as")``, ``{}`` without
    it, as canonical JSON (``access_as`` as given, its keys in jsonb order)."""
    section = _section(agent_config) or {}
    return canonical_json({"access_as": section["access_as"]} if "access_as" in section else {})


# ---------------------------------------------------------------- authorising (AuthorizeProxyUserService)
def _present(value: Any) -> bool:
    """Rails' ``present?``: not nil, false, blank text or an empty collection."""
    if value is None or value is False:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict | list):
        return bool(value)
    return True


def refusal(user_access: UserAccess | None) -> str | None:
    """The 403 message that refuses before any membership matters, in GitLab's order: no
    configuration (none stored, or ``{}``), no ``access_as`` (absent, null or empty), more than one
    key under it. None: ``access_as`` names one mode (see ``mode``)."""
    config = user_access.access_as if user_access else {}
    if not _present(config):
        return NO_USER_ACCESS
    access_as = config.get("access_as")
    if not _present(access_as):
        return NO_ACCESS_AS
    if not isinstance(access_as, dict | list | str) or len(access_as) != 1:
        return ACCESS_AS_NOT_ONCE  # a number or true: not one key either
    return None


def mode(user_access: UserAccess) -> Mode | None:
    """``agent`` or ``user`` when ``access_as`` is an object with that one key; None for anything
    else (GitLab fails there; refused with a plain 403 here)."""
    access_as = user_access.access_as.get("access_as")
    name = next(iter(access_as), None) if isinstance(access_as, dict) else None
    return name if name in ("agent", "user") else None


def membership_sources(user_access: UserAccess) -> list[tuple[str, int]]:
    """Every (kind, id) whose membership can authorise a user: each stored project with its
    groups, each stored group with its ancestors."""
    sources: list[tuple[str, int]] = []
    for project in user_access.projects:
        sources.append(("project", project.id))
        sources.extend(("group", group_id) for group_id in project.group_ids)
    for group in user_access.groups:
        sources.extend(("group", group_id) for group_id in group.self_and_ancestor_ids)
    return list(dict.fromkeys(sources))


def authorized(user: User, user_access: UserAccess, memberships: Iterable[Membership], today: str) -> list[Authorized]:
    """The stored projects, then groups, the user is authorised through, each by ascending id."""
    if user.is_admin:
        return [Authorized("project", p.id, AccessLevel.OWNER) for p in sorted(user_access.projects, key=_id)] + [
            Authorized("group", g.id, AccessLevel.OWNER) for g in sorted(user_access.groups, key=_id)
        ]
    mine: dict[tuple[str, int], list[Membership]] = {}
    for membership in memberships:
        if membership.user_id == user.id:
            mine.setdefault((membership.source_kind, membership.source_id), []).append(membership)

    def level(sources: Iterable[tuple[str, int]]) -> AccessLevel:
        return effective_level([m for source in sources for m in mine.get(source, [])], today)

    found: list[Authorized] = []
    for project in sorted(user_access.projects, key=_id):
        role = (
            AccessLevel.OWNER
            if project.owner_id == user.id
            else level([("project", project.id), *(("group", group_id) for group_id in project.group_ids)])
        )
        if role >= MINIMUM_LEVEL:
            found.append(Authorized("project", project.id, role))
    for group in sorted(user_access.groups, key=_id):
        role = level(("group", group_id) for group_id in group.self_and_ancestor_ids)
        if role >= MINIMUM_LEVEL:
            found.append(Authorized("group", group.id, role))
    return found


def _id(grant: ProjectGrant | GroupGrant) -> int:
    return grant.id
