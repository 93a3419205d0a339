"""CI access (SPEC §6.1, §7.2): which agents a CI job may use, and what an agent's ``ci_access``
configuration authorises. GitLab's ``Clusters::Agents::Authorizations::CiAccess`` (Finder,
FilterService, RefreshService) as pure functions over plain records.

- Finder: ``project authorisations + implicit ones + group authorisations``, then one per agent
  (the first wins: the project's own entry, then the agent's own project, then the closest group).
  Project and group authorisations count only when the agent's configuration project lives in the
  job project's top-level hierarchy (the same personal namespace for a personal project), and only
  with an ``access_as`` the instance offers.
- FilterService, applied after that choice: ``environments`` patterns against the job's environment
  (an entry with patterns never applies to a job without one), then ``protected_branches_only``
  against the pipeline's ref.
- RefreshService: the first 500 ``ci_access.projects`` / ``ci_access.groups`` entries, indexed by
  their lower-cased ``id`` (a later duplicate wins); the stored configuration is the entry without
  ``id``, its keys in PostgreSQL ``jsonb`` order, which is the order GitLab returns them in.

What an entry may hold is bounded: only the fields GitLab's agent configuration knows
(``KNOWN_FIELDS``: KAS parses ``config.yaml`` into its protobuf schema and sends nothing else, so
anything more never reaches GitLab), at most ``MAX_ENTRY_BYTES`` of stored JSON each, nested at
most ``MAX_ENTRY_DEPTH`` deep. A larger
entry is refused (CiAccessEntryTooLarge, a 400 for that agent's request alone); it is never cut
short, since dropping ``environments`` or ``protected_branches_only`` would widen the access."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cluster_agents.domain.models import Project
from cluster_agents.errors import CiAccessEntryTooLarge

AUTHORIZED_ENTITY_LIMIT = 500
# The fields of KAS's CiAccessProjectCF / CiAccessGroupCF besides ``id``: what GitLab stores.
KNOWN_FIELDS = ("default_namespace", "access_as", "environments", "protected_branches_only")
# The most one agent's authorisation of one project or group may hold (its stored JSON, UTF-8):
# room for about a hundred environment patterns; and 1,000 agents at this size still answer
# /job/allowed_agents within Lambda's 6 MB response.
MAX_ENTRY_BYTES = 4096
MAX_ENTRY_DEPTH = 32  # nesting of objects and arrays in an entry (GitLab's deepest field has 4)
# What ``access_as`` may name: GitLab CE offers ``agent`` only, a licensed instance also the
# impersonation modes. There are no licence tiers here, so all of them are available.
AVAILABLE_ACCESS_AS = ("agent", "impersonate", "ci_user", "ci_job")

SourceKind = Literal["project", "group"]
AuthorizationKind = Literal["project", "implicit", "group"]


@dataclass(frozen=True)
class Authorization:
    """One way an agent is authorised for a job's project."""

    agent_id: int
    kind: AuthorizationKind
    configuration: dict[str, Any] = field(default_factory=dict)  # without ``id``; {} when implicit
    group_id: int | None = None  # for a group authorisation: the group that grants it


# ---------------------------------------------------------------- choosing (the Finder)
def in_hierarchy(job_project: Project, agent_project: Project) -> bool:
    """Whether an agent configured in ``agent_project`` may authorise ``job_project`` at all:
    both under the same top-level group, or both in the same personal namespace."""
    if job_project.group_ids:
        return bool(agent_project.group_ids) and agent_project.group_ids[-1] == job_project.group_ids[-1]
    theirs, ours = agent_project.namespace, job_project.namespace
    return theirs.kind == ours.kind == "user" and theirs.id == ours.id


def access_as_available(configuration: dict[str, Any]) -> bool:
    """GitLab's ``with_available_ci_access_fields``: no ``access_as``, an empty one, or one naming
    an available mode (``config->'access_as' ?| array[...]``)."""
    if "access_as" not in configuration:
        return True
    access_as = configuration["access_as"]
    if access_as == {}:
        return True
    if isinstance(access_as, dict | list):
        return any(name in AVAILABLE_ACCESS_AS for name in access_as if isinstance(name, str))
    return isinstance(access_as, str) and access_as in AVAILABLE_ACCESS_AS


def choose(
    project_authorizations: Iterable[Authorization],
    implicit_authorizations: Iterable[Authorization],
    group_authorizations: Iterable[Authorization],
    job_group_ids: Sequence[int],
) -> list[Authorization]:
    """One authorisation per agent: the project's own entry, else the implicit one (the agent's
    configuration project is the job's), else the entry of the group closest to the project.

    ``job_group_ids`` is the project's group, then its ancestors; every authorisation passed in
    must already be eligible (hierarchy, ``access_as``). Each part is ordered by agent id."""
    closeness = {group_id: position for position, group_id in enumerate(job_group_ids)}
    closest: dict[int, Authorization] = {}
    for authorization in group_authorizations:
        if authorization.group_id not in closeness:
            continue
        known = closest.get(authorization.agent_id)
        if known is None or closeness[authorization.group_id] < closeness[known.group_id]:  # type: ignore[index]
            closest[authorization.agent_id] = authorization
    chosen: dict[int, Authorization] = {}
    for part in (project_authorizations, implicit_authorizations, closest.values()):
        for authorization in sorted(part, key=lambda a: a.agent_id):
            chosen.setdefault(authorization.agent_id, authorization)
    return list(chosen.values())


# ---------------------------------------------------------------- filtering (the FilterService)
def _ruby_truthy(value: Any) -> bool:
    return value is not None and value is not False


def _blank(value: Any) -> bool:
    """Rails' ``blank?``: nil, false, empty or whitespace-only strings, empty collections."""
    if value is None or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value
    return False


def wildcard_match(pattern: str, text: str) -> bool:
    """``*`` matches any run of characters, everything else itself; the whole of ``text``.

    Greedy two-pointer matching: linear in practice, never exponential, whatever the pattern."""
    p = t = 0
    star = -1
    resume = 0
    while t < len(text):
        if p < len(pattern) and pattern[p] != "*" and pattern[p] == text[t]:
            p += 1
            t += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif star >= 0:
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def environment_matches(pattern: Any, environment: str | None) -> bool:
    """GitLab's ``Gitlab::Ci::EnvironmentMatcher``: the same name, or - for a pattern with ``*`` -
    a match anywhere in the name (GitLab's pattern regex is unanchored). Every other character is
    taken literally (GitLab would read regex syntax there; a pattern is not a place for it)."""
    if environment is None or not isinstance(pattern, str) or _blank(pattern):
        return False
    if pattern == environment:
        return True
    return "*" in pattern and wildcard_match(f"*{pattern}*", environment)


def _environment_allows(patterns: Any, environment: str | None) -> bool:
    if _blank(patterns):
        return True
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    return any(environment_matches(pattern, environment) for pattern in patterns)


def filter_for_job(
    authorizations: Iterable[Authorization], environment: str | None, protected_ref: bool
) -> list[Authorization]:
    """Keep what applies to a job in ``environment`` (None: the job has none) on a pipeline whose
    ref is protected or not."""
    kept = [a for a in authorizations if _environment_allows(a.configuration.get("environments"), environment)]
    if protected_ref:
        return kept
    return [a for a in kept if not _ruby_truthy(a.configuration.get("protected_branches_only"))]


# ---------------------------------------------------------------- the configuration (RefreshService)
def jsonb_ordered(value: Any) -> Any:
    """``value`` with every object's keys in PostgreSQL jsonb order (shorter keys first, then by
    their UTF-8 bytes), which is how GitLab stores and returns an authorisation's configuration."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode("utf-8")), key.encode("utf-8")))
        return {key: jsonb_ordered(value[key]) for key in keys}
    if isinstance(value, list):
        return [jsonb_ordered(inner) for inner in value]
    return value


def canonical_json(configuration: dict[str, Any]) -> str:
    """The stored form of a configuration: compact JSON in jsonb key order."""
    return json.dumps(jsonb_ordered(configuration), ensure_ascii=False, separators=(",", ":"))


def _depth(value: Any) -> int:
    """How deeply objects and arrays nest in ``value`` (a scalar: 0), without recursion."""
    deepest, waiting = 0, [(value, 0)]
    while waiting:
        current, level = waiting.pop()
        if isinstance(current, dict | list):
            level += 1
            deepest = max(deepest, level)
            waiting.extend((inner, level) for inner in (current.values() if isinstance(current, dict) else current))
    return deepest


def config_entries(agent_config: Any, entity: Literal["projects", "groups"]) -> dict[str, dict[str, Any]]:
    """``ci_access.<entity>``: its first 500 entries by lower-cased ``id`` (a later duplicate wins),
    each the entry's known fields (without ``id``). Entries that are not objects with a string
    ``id`` are skipped; an entry whose stored form passes ``MAX_ENTRY_BYTES`` is refused
    (CiAccessEntryTooLarge naming it)."""
    ci_access = agent_config.get("ci_access") if isinstance(agent_config, dict) else None
    entries = ci_access.get(entity) if isinstance(ci_access, dict) else None
    if not isinstance(entries, list):
        return {}
    indexed: dict[str, dict[str, Any]] = {}
    for entry in entries[:AUTHORIZED_ENTITY_LIMIT]:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        known = {key: value for key, value in entry.items() if key in KNOWN_FIELDS}
        if _depth(known) > MAX_ENTRY_DEPTH:  # before anything recursive reads it
            raise CiAccessEntryTooLarge(entity[:-1], entry["id"], MAX_ENTRY_BYTES, MAX_ENTRY_DEPTH)
        configuration = jsonb_ordered(known)
        if len(canonical_json(configuration).encode("utf-8")) > MAX_ENTRY_BYTES:
            raise CiAccessEntryTooLarge(entity[:-1], entry["id"], MAX_ENTRY_BYTES)
        indexed[entry["id"].lower()] = configuration
    return indexed
