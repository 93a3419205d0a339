"""Agents' ci_access authorisations in the agents table (key layout: ``store/keys.py``).

  CIACCESS#<project|group>#<id> / ALL              what the job side reads: every agent authorising
        that project or group, one top-level attribute each, ``a<agent id>`` = {p: the agent's
        configuration project id, c: the configuration} - or only {p} when the configuration is
        longer than ``INLINE_LIMIT``: then it is in the agent's mirror alone
  AGENT#<agent id> / CI#<project|group>#<id>       the same entry, found again from the agent
        (agent_id, agent_project_id, kind, source_id, configuration: to replace its configuration,
        for the agent's cascade deletion, and for the job side when the entry is not inline)

``configuration`` is a JSON string (GitLab's jsonb: the known fields of the agent's config.yaml
entry, keys in jsonb order, at most ``domain.ci_access.MAX_ENTRY_BYTES``), so it comes back byte
for byte.

One item per source is what lets ``/job/allowed_agents`` read the authorisations of a project and
all its groups in the BatchGetItem that reads the user and the memberships: three round trips at
any depth. An entry is a top-level attribute, not a key of a nested map, because ``SET #a = :v``
creates the item when it is not there yet (a nested path would fail on a missing item); an agent
that stops authorising the source REMOVEs its attribute, and an item left with no entry stays.

Its limit is DynamoDB's 400 KB per item, shared by every agent authorising the source, so what one
agent may put there is bounded (no agent's configuration may make another agent's
authorisation fail): an entry is at most about ``INLINE_LIMIT`` + 30 bytes whatever the agent's
configuration, since a longer configuration stays in the agent's own mirror item (one per agent
and source, 400 KB each) and the job side reads it from there, in one more BatchGetItem, only when
such an entry authorises the job's project or groups. So one project or group holds at least 1,400
agents' authorisations whatever they configure (about 17,000 with GitLab's usual ``{}`` or
``default_namespace``; BENCHMARKS.md measures the items and bytes read). Past that, a replacement
that would take the item over 400 KB fails as CiAccessTooLarge (a 400 naming the source) and
writes nothing: no entry is cut short or dropped. (A replacement of more than 49 changes takes
several transactions; what the earlier ones wrote stays, as when the store is busy half-way, each
of them consistent on its own.)

Replacing an agent's authorisations writes only what changed, in transactions of at most 100
actions: per change, the source's ``ALL`` item (SET or REMOVE the agent's attribute) and the
mirror (Put or Delete). Each transaction also moves the agent item's ``version`` on by one, on
condition that it is still the version the change was computed from: a concurrent replacement, a
token or URL configuration change, or the agent's deletion makes the next transaction fail, and
the whole replacement starts again from a fresh read. So the stored set is always one
configuration's, never a mix of two, and nothing is written for an agent that is gone (its
deletion, conditioned on the version it read, sees every entry written before it). Another
agent's replacement writing the same ``ALL`` item at the same moment cancels the transaction with
a TransactionConflict: that too is retried, after a short random pause and a fresh read.

That read is one Query of the agent's partition: the agent item ``A`` and its ``CI#`` mirrors
sort next to each other (only its active tokens, ``AT#``, lie between them), so the agent and its
current authorisations come back together, and the agent server's configuration request reads
the agent once.

The job side reads the ``CIACCESS#`` items and the project's name index **eventually consistent**
(half the read units, so twice the requests a second one hot group's item serves): a change of
the last second may not be seen yet. That is what GitLab's own flow already allows: an agent's
ci_access changes when the agent server pushes its configuration (``agent_configuration``),
which it does when it next reads the agent's config repository, so no job's ``allowed_agents``
was ever promised a change the moment it was made. A just-removed authorisation or a just-deleted
agent may be listed for that second (the agent server then finds no agent, as when the job had
asked a second earlier), and a just-added one missed (as if the configuration arrived a second
later). Nothing is written from these reads. For the same reason a container keeps the items it
read for a second (``store/recent_copies.py``), so one busy group's item is read at most once a
second per container.

The job side trusts an entry of a ``CIACCESS#`` item to stand for a live agent: the agent's
deletion removes them before or with the agent item (``AgentRepository.delete_agent``), and no
replacement writes one after it (the version condition), so none outlives its agent. The entry
carries the agent's configuration project (an agent never moves), so reading it is all the job
side needs."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cluster_agents.domain.agents import Agent
from cluster_agents.domain.ci_access import SourceKind
from cluster_agents.domain.user_access import UserAccess
from cluster_agents.errors import AgentNotFound, CiAccessTooLarge, StoreBusy
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo
from cluster_agents.store.agents import agent_from_item
from cluster_agents.store.keys import (
    ACTIVE_TOKEN_PREFIX,
    AGENT_SK,
    CI_ACCESS_ENTRY_PREFIX,
    CI_ACCESS_MIRROR_PREFIX,
    NAME_INDEX_PREFIX,
    USER_ACCESS_SK,
    agent_pk,
    agent_project_pk,
    ci_access_entry,
    ci_access_key,
    mirror_sk,
)
from cluster_agents.store.recent_copies import ci_access_copies
from cluster_agents.store.user_access import replacement_action, user_access_from_item

MAX_ACTIONS = 100  # DynamoDB's limit per transaction
CHANGES_PER_TRANSACTION = (MAX_ACTIONS - 1) // 2  # two items per change, plus the agent's version
MAX_ATTEMPTS = 5
# The longest configuration (bytes of its JSON) kept inline in a CIACCESS# entry; a longer one is
# read from the agent's mirror (see above).
INLINE_LIMIT = 256

Source = tuple[SourceKind, int]


@dataclass(frozen=True)
class AgentAuthorizations:
    """An agent and its authorisations as one read of its partition found them."""

    agent: Agent
    version: int | None  # the agent item's ``version`` as stored (None: it has none yet)
    current: dict[Source, str]  # ``{(kind, id): configuration as stored (canonical JSON)}``
    user_access: UserAccess | None = None  # its user_access state (``store/user_access.py``)


@dataclass(frozen=True)
class StoredAuthorization:
    agent_id: int
    agent_project_id: int
    kind: SourceKind
    source_id: int
    configuration: dict[str, Any] | None  # None: not inline, in the agent's mirror (``with_configurations``)


def _prefix_end(prefix: str) -> str:
    """The smallest string above every string that starts with ``prefix`` (its last character
    is ``#``: ``"CI#"`` -> ``"CI$"``)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def entries_of(item: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """The entries of a ``CIACCESS#`` item: ``{agent id: {"p": project id, "c": configuration}}``."""
    prefix = CI_ACCESS_ENTRY_PREFIX
    return {
        int(name[len(prefix) :]): value
        for name, value in item.items()
        if name.startswith(prefix) and name[len(prefix) :].isdigit()
    }


def _authorizations_of(source: Source, item: dict[str, Any] | None) -> list[StoredAuthorization]:
    kind, source_id = source
    entries = entries_of(item) if item else {}
    return [
        StoredAuthorization(agent_id, entry["p"], kind, source_id, json.loads(entry["c"]) if "c" in entry else None)
        for agent_id, entry in sorted(entries.items())
    ]


def inline(configuration: str) -> bool:
    """Whether a configuration (canonical JSON) is kept in the ``CIACCESS#`` entry itself."""
    return len(configuration.encode("utf-8")) <= INLINE_LIMIT


class CiAccessRepository:
    """Reads for ``/job/allowed_agents`` and the replacement of an agent's authorisations."""

    def __init__(self, table: str) -> None:
        self.table = table

    # ------------------------------------------------------------ the job side
    def authorizing(self, sources: Sequence[Source]) -> dynamo.Read[list[StoredAuthorization]]:
        """Every agent's authorisation of these projects and groups, source by source in the
        order given, each by agent id: a read for ``dynamo.read_together`` of the sources' items
        this container has no copy of from the last second (``store/recent_copies.py``)."""
        keys = {source: ci_access_key(*source) for source in dict.fromkeys(sources)}
        copies, read_at = ci_access_copies(), time.monotonic()
        fresh = copies.fresh(keys.values(), read_at)
        missing = tuple(key for key in keys.values() if key not in fresh)

        def answer(found: dict[tuple[str, str], dict]) -> list[StoredAuthorization]:
            copies.keep(missing, found, read_at)
            items = {**fresh, **found}
            return [entry for source, key in keys.items() for entry in _authorizations_of(source, items.get(key))]

        return dynamo.Read(self.table, missing, answer, consistent=False)

    def with_configurations(self, found: list[StoredAuthorization]) -> list[StoredAuthorization]:
        """``found`` with the configurations that are not inline read from the agents' mirrors (one
        BatchGetItem, none when every entry is inline). An entry whose mirror is gone meanwhile
        (the agent stopped authorising the source, or was deleted) is left out."""
        missing = [entry for entry in found if entry.configuration is None]
        if not missing:
            return found
        keys = {
            (entry.agent_id, entry.kind, entry.source_id): (
                agent_pk(entry.agent_id),
                mirror_sk(entry.kind, entry.source_id),
            )
            for entry in missing
        }
        mirrors = dynamo.batch_get({self.table: list(keys.values())})[self.table]
        completed = []
        for entry in found:
            if entry.configuration is None:
                mirror = mirrors.get(keys[(entry.agent_id, entry.kind, entry.source_id)])
                if mirror is None:
                    continue
                entry = StoredAuthorization(
                    entry.agent_id,
                    entry.agent_project_id,
                    entry.kind,
                    entry.source_id,
                    json.loads(mirror["configuration"]),
                )
            completed.append(entry)
        return completed

    def agent_ids_of_project(self, project_id: int) -> list[int]:
        """The agents whose configuration project is ``project_id`` (from the name index, eventually
        consistent: see above)."""
        items = dynamo.query_all(
            self.table, agent_project_pk(project_id), sk_prefix=NAME_INDEX_PREFIX, consistent=False
        )
        return sorted(int(item["id"]) for item in items)

    # ------------------------------------------------------------ the agent side
    def read_agent(self, agent_id: int) -> AgentAuthorizations | None:
        """The agent and its current authorisations in one Query (more only past 1 MB): the sort
        keys from ``A`` through ``CI#...`` - the agent, its user_access state ``CA`` and its
        ci_access mirrors -, less the active tokens between them. None: no agent."""
        items: list[dict[str, Any]] = []
        start: dict | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :agent AND :mirrors_end",
                "FilterExpression": "NOT begins_with(sk, :token)",
                "ExpressionAttributeValues": {
                    ":pk": {"S": agent_pk(agent_id)},
                    ":agent": {"S": AGENT_SK},
                    ":mirrors_end": {"S": _prefix_end(CI_ACCESS_MIRROR_PREFIX)},
                    ":token": {"S": ACTIVE_TOKEN_PREFIX},
                },
                "ConsistentRead": True,
            }
            if start:
                request["ExclusiveStartKey"] = start
            with dynamo.translated():
                response = dynamo.ddb().query(**request)
            items.extend(dynamo.from_item(raw) for raw in response.get("Items", []))
            start = response.get("LastEvaluatedKey")
            if not start:
                break
        agent_item = next((item for item in items if item["sk"] == AGENT_SK), None)
        if agent_item is None:
            return None
        current = {
            (item["kind"], item["source_id"]): item["configuration"]
            for item in items
            if item["sk"].startswith(CI_ACCESS_MIRROR_PREFIX)
        }
        user_access = user_access_from_item(next((item for item in items if item["sk"] == USER_ACCESS_SK), None))
        return AgentAuthorizations(agent_from_item(agent_item), agent_item.get("version"), current, user_access)

    def replace_for_agent(
        self,
        agent: Agent,
        wanted: dict[Source, str],
        read: AgentAuthorizations | None = None,
        user_access: UserAccess | None = None,
    ) -> int:
        """Make the agent's authorisations exactly ``wanted`` (``{(kind, id): canonical JSON}``),
        and its user_access state ``user_access`` (None: none), together: the user_access item is
        written in the first transaction, so a replacement of up to 49 ci_access changes is one
        transaction for both.

        ``read`` is what ``read_agent`` found, when the caller has just read it; the agent is read
        again for every further attempt. Returns how many entries were written or deleted;
        AgentNotFound when the agent is gone, StoreBusy when it kept changing under us (or other
        agents kept writing the same sources), CiAccessTooLarge when a source's item would pass
        DynamoDB's 400 KB. (The user_access item counts as one change.)"""
        for attempt in range(MAX_ATTEMPTS):
            found, read = read or self.read_agent(agent.id), None
            if found is None:
                raise AgentNotFound()
            current = found.current
            changes = [
                (source, self._put_actions(agent, source, configuration))
                for source, configuration in sorted(wanted.items())
                if current.get(source) != configuration
            ]
            changes += [
                (source, self._delete_actions(agent.id, source)) for source in sorted(current) if source not in wanted
            ]
            user_access_changes = found.user_access != user_access
            if not changes and not user_access_changes:
                return 0
            # After the version and the ci_access pairs, so that an action's index names its source.
            last = [replacement_action(self.table, agent.id, user_access)] if user_access_changes else []
            version = found.version
            try:
                for start in range(0, max(len(changes), 1), CHANGES_PER_TRANSACTION):
                    chunk = changes[start : start + CHANGES_PER_TRANSACTION]
                    try:
                        dynamo.transact(
                            [
                                self._bump_version(agent.id, version),
                                *(action for _, pair in chunk for action in pair),
                                *last,
                            ]
                        )
                        ci_access_copies().forget(ci_access_key(*source) for source, _ in chunk)
                        last = []
                    except dynamo.ItemTooLarge as too_large:
                        raise CiAccessTooLarge(_too_large_sources(chunk, too_large.index)) from None
                    version = (version or 0) + 1
            except dynamo.TransactionCancelled as cancelled:
                if cancelled.failed(0):
                    continue  # the agent changed (or went): read again and recompute
                raise
            except dynamo.TransactionConflicted:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise
                dynamo.pause_after_conflict(attempt)
                continue  # another agent wrote one of the same items: read again and retry
            return len(changes) + int(user_access_changes)
        raise StoreBusy()

    def _bump_version(self, agent_id: int, expected: int | None) -> dict:
        if expected is None:
            condition, values = "attribute_exists(pk) AND attribute_not_exists(#version)", {":next": 1}
        else:
            condition, values = "#version = :expected", {":expected": expected, ":next": expected + 1}
        return dynamo.update_action(
            self.table,
            agent_pk(agent_id),
            AGENT_SK,
            "SET #version = :next",
            condition,
            names={"#version": "version"},
            values=values,
        )

    def _put_actions(self, agent: Agent, source: Source, configuration: str) -> tuple[dict, dict]:
        kind, source_id = source
        fields = {
            "agent_id": agent.id,
            "agent_project_id": agent.project_id,
            "kind": kind,
            "source_id": source_id,
            "configuration": configuration,
        }
        return (
            dynamo.update_action(
                self.table,
                *ci_access_key(kind, source_id),
                "SET #entry = :entry",
                names={"#entry": ci_access_entry(agent.id)},
                values={
                    ":entry": {"p": agent.project_id, "c": configuration}
                    if inline(configuration)
                    else {"p": agent.project_id}
                },
            ),
            dynamo.put_action(self.table, {"pk": agent_pk(agent.id), "sk": mirror_sk(kind, source_id), **fields}),
        )

    def _delete_actions(self, agent_id: int, source: Source) -> tuple[dict, dict]:
        kind, source_id = source
        return (
            dynamo.update_action(
                self.table,
                *ci_access_key(kind, source_id),
                "REMOVE #entry",
                names={"#entry": ci_access_entry(agent_id)},
            ),
            dynamo.delete_action(self.table, agent_pk(agent_id), mirror_sk(kind, source_id)),
        )


def _too_large_sources(chunk: list[tuple[Source, tuple[dict, dict]]], index: int | None) -> list[Source]:
    """The source whose item a transaction of ``chunk`` would have taken past 400 KB: the one of
    the action DynamoDB names (after the agent's version, two actions per change), else every
    source the chunk writes an entry to (a removal only makes an item smaller)."""
    if index is not None and 1 <= index <= 2 * len(chunk):
        return [chunk[(index - 1) // 2][0]]
    return [source for source, (entry, _) in chunk if entry["Update"]["UpdateExpression"].startswith("SET")]


@functools.cache
def ci_access() -> CiAccessRepository:
    return CiAccessRepository(get_settings().agents_table)
