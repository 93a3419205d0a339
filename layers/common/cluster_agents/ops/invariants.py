"""The invariants of the agents table, checked from one consistent-as-possible scan (read-only).

- an agent has at most two active tokens, and its ``active_tokens`` counter equals their number;
  none has an id above its ``last_token_id`` (ids in creation order, ``store/agent_tokens.py``);
- an agent has at most one URL configuration, and ``is_receptive`` says whether it has one;
- agent names are unique per project: every agent has exactly one name-index item and back;
- every project's ``#STATS`` agent_count equals its number of agents;
- every token digest item points at an active token, and every active token has one;
- nothing belongs to a deleted agent (tokens, URL configuration, ci_access entries);
- every entry of a ``CIACCESS#<kind>#<id> / ALL`` item (``a<agent id>``) has its mirror
  ``AGENT#<agent id> / CI#<kind>#<id>`` with the same configuration (inline exactly when it is
  short, ``store/ci_access.py``), and names the agent's project, and every mirror has its entry
  (an ``ALL`` item with no entry left is fine);
- an agent's user_access item ``AGENT#<agent id> / CA`` names its agent, holds a configuration
  (``{}`` or ``{"access_as": ...}``) and authorises at least one project or group, each once;
- the receptive-agents index ``RECEPTIVE / AGENT#<agent id:012d>`` has exactly one entry per URL
  configuration ``AGENT#<agent id> / U``, copying its fields, and nothing else.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from cluster_agents.store.ci_access import inline
from cluster_agents.store.receptive_index import ENTRY_ATTRIBUTES as RECEPTIVE_COPIED

TOKEN_LIMIT = 2
CI_ACCESS_SK = "ALL"
USER_ACCESS_SK = "CA"
ENTRY = re.compile(r"a(\d+)")  # an agent's entry in a CIACCESS# item
RECEPTIVE_PK = "RECEPTIVE"
RECEPTIVE_SK = re.compile(r"AGENT#(\d{12})")


@dataclass
class Report:
    items_read: int = 0
    agents: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def check_items(items: Iterable[dict[str, Any]]) -> Report:
    """Check every invariant over the items of the agents table (plain dicts with pk/sk)."""
    report = Report()
    agents: dict[int, dict] = {}
    active: dict[int, list[int]] = defaultdict(list)
    partitions: dict[int, list[str]] = defaultdict(list)
    name_index: dict[tuple[int, str], dict] = {}
    stats: dict[int, int] = {}
    digests: list[dict] = []
    ci_access: list[dict] = []
    mirrors: dict[tuple[int, str], dict] = {}  # (agent id, "<kind>#<id>") -> the mirror item
    user_access: dict[int, dict] = {}  # agent id -> its user_access item
    configurations: dict[int, dict] = {}  # agent id -> its URL configuration (U)
    receptive: list[dict] = []
    for item in items:
        report.items_read += 1
        pk, sk = item["pk"], item["sk"]
        if pk.startswith("AGENT#"):
            agent_id = int(pk.split("#", 1)[1])
            partitions[agent_id].append(sk)
            if sk == "A":
                agents[agent_id] = item
            elif sk.startswith("AT#"):
                active[agent_id].append(int(sk[3:]))
            elif sk.startswith("CI#"):
                mirrors[(agent_id, sk[len("CI#") :])] = item
            elif sk == USER_ACCESS_SK:
                user_access[agent_id] = item
            elif sk == "U":
                configurations[agent_id] = item
        elif pk.startswith("PROJECT#") and sk.startswith("AGENT#"):
            name_index[(int(pk.split("#", 1)[1]), sk[len("AGENT#") :])] = item
        elif pk.startswith("PROJECT#") and sk == "#STATS":
            stats[int(pk.split("#", 1)[1])] = int(item.get("agent_count", 0))
        elif pk.startswith("AGENTTOKEN#"):
            digests.append(item)
        elif pk.startswith("CIACCESS#"):
            ci_access.append(item)
        elif pk == RECEPTIVE_PK:
            receptive.append(item)
    report.agents = len(agents)
    report.violations.extend(_agent_violations(agents, active, partitions))
    report.violations.extend(_name_violations(agents, name_index, stats))
    report.violations.extend(_digest_violations(agents, active, digests))
    report.violations.extend(_ci_access_violations(agents, ci_access, mirrors))
    report.violations.extend(_user_access_violations(user_access))
    report.violations.extend(_receptive_violations(configurations, receptive))
    return report


def _user_access_violations(user_access: dict[int, dict]) -> Iterator[str]:
    """(An item of a deleted agent is already reported as left in its partition.)"""
    for agent_id, item in sorted(user_access.items()):
        where = f"AGENT#{agent_id} {USER_ACCESS_SK}"
        if item.get("agent_id") != agent_id:
            yield f"{where}: names agent {item.get('agent_id')}"
        try:
            config = json.loads(item.get("config", ""))
        except (TypeError, ValueError):
            config = None
        if not isinstance(config, dict) or set(config) - {"access_as"}:
            yield f'{where}: configuration {item.get("config")!r} is not {{}} or {{"access_as": ...}}'
        projects, groups = item.get("projects") or [], item.get("groups") or []
        if not projects and not groups:
            yield f"{where}: authorises no project and no group (the item should be gone)"
        for kind, grants in (("project", projects), ("group", groups)):
            ids = [grant.get("id") if isinstance(grant, dict) else None for grant in grants]
            if len(set(ids)) != len(ids) or None in ids:
                yield f"{where}: a {kind} listed twice, or without an id"


def _receptive_violations(configurations: dict[int, dict], receptive: list[dict]) -> Iterator[str]:
    indexed: set[int] = set()
    for item in receptive:
        match = RECEPTIVE_SK.fullmatch(item["sk"])
        if not match:
            yield f"{RECEPTIVE_PK} {item['sk']}: not a receptive-agents entry (AGENT#<agent id:012d>)"
            continue
        agent_id = int(match.group(1))
        indexed.add(agent_id)
        configuration = configurations.get(agent_id)
        if configuration is None:
            yield f"{RECEPTIVE_PK} {item['sk']}: entry of agent {agent_id}, which has no URL configuration"
            continue
        differing = [name for name in RECEPTIVE_COPIED if item.get(name) != configuration.get(name)]
        if differing:
            yield f"{RECEPTIVE_PK} {item['sk']}: entry differs from AGENT#{agent_id} U in {', '.join(differing)}"
    for agent_id in sorted(set(configurations) - indexed):
        yield f"AGENT#{agent_id} U: URL configuration missing from the receptive-agents index"


def _ci_access_violations(
    agents: dict[int, dict], ci_access: list[dict], mirrors: dict[tuple[int, str], dict]
) -> Iterator[str]:
    entries: set[tuple[int, str]] = set()
    for item in ci_access:
        pk, sk = item["pk"], item["sk"]
        if sk != CI_ACCESS_SK:
            yield f"{pk} {sk}: not a ci_access item (only {pk} {CI_ACCESS_SK} holds the authorisations)"
            continue
        source = pk[len("CIACCESS#") :]
        for name, entry in sorted(item.items()):
            match = ENTRY.fullmatch(name)
            if not match:
                continue
            agent_id = int(match.group(1))
            entries.add((agent_id, source))
            if agent_id not in agents:
                yield f"{pk} {sk}: ci_access of a deleted agent {agent_id}"
                continue
            if not isinstance(entry, dict):
                yield f"{pk} {sk}: entry {name} is not a map"
                continue
            if entry.get("p") != agents[agent_id].get("project_id"):
                yield (
                    f"{pk} {sk}: agent {agent_id}'s entry names project {entry.get('p')}, "
                    f"not its project {agents[agent_id].get('project_id')}"
                )
            mirror = mirrors.get((agent_id, source))
            if mirror is None:
                yield f"{pk} {sk}: agent {agent_id}'s entry has no mirror AGENT#{agent_id} CI#{source}"
            elif "c" in entry and entry["c"] != mirror.get("configuration"):
                yield f"{pk} {sk}: agent {agent_id}'s entry and its mirror disagree on the configuration"
            elif ("c" in entry) != inline(str(mirror.get("configuration", ""))):
                yield (
                    f"{pk} {sk}: agent {agent_id}'s configuration is "
                    f"{'inline' if 'c' in entry else 'not inline'} but {'not ' if 'c' in entry else ''}short"
                )
    for agent_id, source in sorted(set(mirrors) - entries):
        if agent_id in agents:
            yield f"AGENT#{agent_id} CI#{source}: mirror without its entry in CIACCESS#{source} {CI_ACCESS_SK}"


def _agent_violations(
    agents: dict[int, dict], active: dict[int, list[int]], partitions: dict[int, list[str]]
) -> Iterator[str]:
    for agent_id, sks in sorted(partitions.items()):
        if agent_id not in agents:
            yield f"AGENT#{agent_id}: {len(sks)} item(s) left of a deleted agent ({', '.join(sorted(sks)[:5])})"
    for agent_id, agent in sorted(agents.items()):
        tokens = active.get(agent_id, [])
        if len(tokens) > TOKEN_LIMIT:
            yield f"agent {agent_id}: {len(tokens)} active tokens (limit {TOKEN_LIMIT})"
        if int(agent.get("active_tokens", 0)) != len(tokens):
            yield f"agent {agent_id}: active_tokens counter {agent.get('active_tokens', 0)} != {len(tokens)} active"
        if "last_token_id" in agent and tokens and max(tokens) > int(agent["last_token_id"]):
            yield f"agent {agent_id}: active token {max(tokens)} above last_token_id {agent['last_token_id']}"
        has_configuration = "U" in partitions.get(agent_id, [])
        if bool(agent.get("is_receptive")) != has_configuration:
            yield (
                f"agent {agent_id}: is_receptive={bool(agent.get('is_receptive'))} but URL configuration "
                f"{'exists' if has_configuration else 'missing'}"
            )


def _name_violations(
    agents: dict[int, dict], name_index: dict[tuple[int, str], dict], stats: dict[int, int]
) -> Iterator[str]:
    indexed_ids = Counter(item.get("id") for item in name_index.values())
    for agent_id, agent in sorted(agents.items()):
        entry = name_index.get((int(agent["project_id"]), agent["name"]))
        if entry is None or entry.get("id") != agent_id:
            yield f"agent {agent_id}: no name-index item for {agent['name']!r} in project {agent['project_id']}"
        elif bool(entry.get("is_receptive")) != bool(agent.get("is_receptive")):
            yield f"agent {agent_id}: name index disagrees on is_receptive"
    for (project_id, name), entry in sorted(name_index.items()):
        if entry.get("id") not in agents:
            yield f"project {project_id}: name {name!r} indexes a missing agent {entry.get('id')}"
        if indexed_ids[entry.get("id")] > 1:
            yield f"agent {entry.get('id')}: indexed under more than one name"
    per_project = Counter(int(agent["project_id"]) for agent in agents.values())
    for project_id in sorted(set(per_project) | set(stats)):
        if stats.get(project_id, 0) != per_project.get(project_id, 0):
            yield f"project {project_id}: agent_count {stats.get(project_id, 0)} != {per_project.get(project_id, 0)}"


def _digest_violations(agents: dict[int, dict], active: dict[int, list[int]], digests: list[dict]) -> Iterator[str]:
    pointed: Counter[tuple[Any, Any]] = Counter()
    for item in digests:
        agent_id, token_id = item.get("agent_id"), item.get("token_id")
        pointed[(agent_id, token_id)] += 1
        if agent_id not in agents or token_id not in active.get(agent_id, []):
            yield f"token digest for agent {agent_id} token {token_id}: no such active token"
    for agent_id, tokens in sorted(active.items()):
        for token_id in tokens:
            if pointed[(agent_id, token_id)] != 1:
                yield f"agent {agent_id} token {token_id}: {pointed[(agent_id, token_id)]} digest items (expected 1)"
