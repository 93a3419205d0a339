"""Agents in the agents table (key layout: ``store/keys.py``): registration, lookup, listing in
name order with the project's count, and the cascade that deletes an agent with everything it owns.

Every limit is a condition in the write itself: ``attribute_not_exists`` on the name index makes
names unique per project."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cluster_agents import clock
from cluster_agents.domain.agents import NAME_TAKEN, Agent
from cluster_agents.errors import StoreBusy, ValidationFailed
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo, ids, receptive_index
from cluster_agents.store.keys import (
    ACTIVE_TOKEN_PREFIX,
    AGENT_COUNTER,
    AGENT_SK,
    CI_ACCESS_MIRROR_PREFIX,
    NAME_INDEX_PREFIX,
    PROJECT_INDEX_RANGE,
    STATS_SK,
    URL_CONFIGURATION_SK,
    USER_ACCESS_SK,
    agent_key,
    agent_pk,
    agent_project_pk,
    ci_access_entry,
    ci_access_key_of_mirror,
    name_index_key,
    receptive_key,
    stats_key,
    token_digest_key,
)
from cluster_agents.store.recent_copies import ci_access_copies

_DELETE_ATTEMPTS = 5
_TRANSACTION_ACTIONS = 100  # DynamoDB's limit per TransactWriteItems
_BATCH_WRITE_SIZE = 25
MAX_QUERY_LIMIT = 2**31 - 1  # DynamoDB refuses a larger Limit


def ci_access_entry_removal(table: str, agent_id: int, mirror_key: tuple[str, str]) -> list[dict]:
    """Transaction actions removing one authorisation: its entry in the ``CIACCESS#`` item (the
    item stays, even when left empty), then its mirror."""
    return [
        dynamo.update_action(
            table, *ci_access_key_of_mirror(mirror_key[1]), "REMOVE #entry", names={"#entry": ci_access_entry(agent_id)}
        ),
        dynamo.delete_action(table, *mirror_key),
    ]


def agent_from_item(item: dict[str, Any]) -> Agent:
    return Agent(
        id=item["id"],
        project_id=item["project_id"],
        name=item["name"],
        created_at=item["created_at"],
        created_by_user_id=item["created_by_user_id"],
        is_receptive=bool(item.get("is_receptive")),
        updated_at=item.get("updated_at") or item["created_at"],
        active_tokens=item.get("active_tokens", 0),
        version=item.get("version", 0),
    )


@dataclass(frozen=True)
class AgentDeletion:
    """What deleting an agent removes, as read from its partition (``prepare_deletion``)."""

    agent: Agent
    keys: tuple[tuple[str, str], ...]  # every item of the agent's partition, the agent's own included
    token_digests: tuple[str, ...]  # the lookup items of its active tokens


class AgentRepository:
    """Agents: registration, lookup, listing, cascade deletion."""

    def __init__(self, table: str) -> None:
        self.table = table

    def get(self, agent_id: int) -> Agent | None:
        item = dynamo.get(self.table, *agent_key(agent_id))
        return agent_from_item(item) if item else None

    # ------------------------------------------------------------ registration
    def create_agent(self, project_id: int, name: str, created_by_user_id: int) -> Agent:
        """Register ``name`` in the project: one transaction puts the name index (the uniqueness
        condition), the agent, and counts it in ``#STATS``. ValidationFailed when the name is taken."""
        agent_id = ids.next_id(self.table, AGENT_COUNTER)
        now = clock.now_iso()
        fields = {
            "id": agent_id,
            "project_id": project_id,
            "name": name,
            "created_at": now,
            "created_by_user_id": created_by_user_id,
            "is_receptive": False,
            "updated_at": now,
        }
        index_pk, index_sk = name_index_key(project_id, name)
        try:
            dynamo.transact(
                [
                    dynamo.put_action(
                        self.table, {"pk": index_pk, "sk": index_sk, **fields}, "attribute_not_exists(pk)"
                    ),
                    dynamo.put_action(
                        self.table,
                        {"pk": agent_pk(agent_id), "sk": AGENT_SK, **fields, "active_tokens": 0, "version": 0},
                        "attribute_not_exists(pk)",
                    ),
                    dynamo.update_action(
                        self.table,
                        *stats_key(project_id),
                        "ADD #count :one",
                        names={"#count": "agent_count"},
                        values={":one": 1},
                    ),
                ]
            )
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise ValidationFailed([NAME_TAKEN]) from None
            raise StoreBusy() from None
        return agent_from_item({**fields, "active_tokens": 0, "version": 0})

    # ------------------------------------------------------------ listing
    def list_agents(self, project_id: int, offset: int, limit: int) -> tuple[list[Agent], int]:
        """One page of the project's agents in name order, and how many it has (``#STATS``).

        The first page is one Query (``#STATS`` and the first ``limit`` names); a later page
        first reads the keys it skips, then its page."""
        pk = agent_project_pk(project_id)
        if offset == 0:
            items, _ = self._read_range(pk, limit + 1)
            return [agent_from_item(i) for i in items if _is_index(i)][:limit], _agent_count(items)
        head, _ = self._read_range(pk, offset + 1, keys_only=True, enough=lambda read: _agent_count(read) <= offset)
        total = _agent_count(head)
        skipped = [i for i in head if _is_index(i)]
        if total <= offset or len(skipped) < offset:
            return [], total
        items, _ = self._read_range(pk, limit, start_after=(pk, skipped[offset - 1]["sk"]))
        return [agent_from_item(i) for i in items if _is_index(i)][:limit], total

    def _read_range(
        self,
        pk: str,
        count: int,
        *,
        start_after: tuple[str, str] | None = None,
        keys_only: bool = False,
        enough: Callable[[list[dict[str, Any]]], bool] | None = None,
    ) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
        """Up to ``count`` items of the project's index range (several requests only past 1 MB, or
        ``MAX_QUERY_LIMIT`` items); stops early once ``enough`` says so of the items read (a page past
        the end: ``#STATS``, read first, already shows there is nothing to skip to).

        The keys a later page skips are read eventually consistent, at half the read units: offset
        pages are no snapshot anyway (an agent made or deleted between two page requests shifts the
        later pages, in GitLab too), so a change of the last second showing a second later moves
        nothing a client could rely on. The page itself, and page 1, are strongly consistent."""
        items: list[dict[str, Any]] = []
        start = start_after
        while len(items) < count and not (enough and items and enough(items)):
            request: dict[str, Any] = {
                "TableName": self.table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "ExpressionAttributeValues": {
                    ":pk": {"S": pk},
                    ":low": {"S": PROJECT_INDEX_RANGE[0]},
                    ":high": {"S": PROJECT_INDEX_RANGE[1]},
                },
                "ConsistentRead": not keys_only,
                "Limit": min(count - len(items), MAX_QUERY_LIMIT),
            }
            if start:
                request["ExclusiveStartKey"] = dynamo.key(*start)
            if keys_only:  # the keys, and #STATS' count
                request["ProjectionExpression"] = "#pk, #sk, #count"
                request["ExpressionAttributeNames"] = {"#pk": "pk", "#sk": "sk", "#count": "agent_count"}
            with dynamo.translated():
                response = dynamo.ddb().query(**request)
            items.extend(dynamo.from_item(raw) for raw in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            start = (last["pk"]["S"], last["sk"]["S"]) if last else None
            if start is None:
                break
        return items, start

    # ------------------------------------------------------------ deletion
    def prepare_deletion(self, agent_id: int) -> AgentDeletion | None:
        """Read the agent's whole partition (one Query, more past 1 MB); None when there is no agent."""
        items = dynamo.query_all(self.table, agent_pk(agent_id))
        agent_item = next((i for i in items if i["sk"] == AGENT_SK), None)
        if agent_item is None:
            return None
        digests = tuple(
            i["token_digest"] for i in items if i["sk"].startswith(ACTIVE_TOKEN_PREFIX) and i.get("token_digest")
        )
        return AgentDeletion(agent_from_item(agent_item), tuple((i["pk"], i["sk"]) for i in items), digests)

    def delete_agent(self, deletion: AgentDeletion) -> None:
        """Delete the agent and everything it owns, leaving nothing behind.

        1. One transaction removes the agent (on the ``version`` read: any concurrent token,
           URL configuration or ci_access change makes it fail, and the partition is read again),
           its name index, one from ``#STATS``, its active tokens with their lookup items (so they
           stop authenticating at that instant), its URL configuration with its entry in the
           receptive-agents index, raising the index's generation (so the agent server never lists
           half of it), its user_access state (so no user is authorised through it any more), and
           as much of the rest as fits in one transaction: its ``ci_access`` authorisations (mirror
           and ``CIACCESS#`` entry together), then its revoked tokens. A failed transaction (throttled, conflicting)
           thus writes nothing at all for any ordinary agent.
        2. What does not fit (an agent with hundreds of revoked tokens or authorisations) goes
           first, before that transaction, while the agent still exists, so nothing ever points at
           a missing agent: revoked tokens (BatchWriteItem; nothing reads them) before
           authorisations (transactions of 49, each entry removed from its ``CIACCESS#`` item
           together with its mirror, each transaction moving the agent's ``version`` on, as every
           other writer of the partition does).

        No read follows: nothing can be slipped into the partition after it was read. Every writer
        into ``AGENT#<id>`` either moves the agent's ``version`` on in the same transaction, on
        condition that the agent exists (token create and revoke, URL configuration create and
        delete, ``ci_access`` and ``user_access`` replacement) - so it fails once the agent is deleted, and before
        that makes this transaction fail and the partition be read again - or updates an item that
        this transaction deletes, on condition that it still exists (``last_used_at``)."""
        agent_id = deletion.agent.id
        for attempt in range(_DELETE_ATTEMPTS):
            actions = self._removal(deletion)
            authorizations, revoked = self._dependents(deletion)
            overflowing_authorizations, overflowing_revoked = [], []
            for unit in authorizations:
                if len(actions) + len(unit) <= _TRANSACTION_ACTIONS:
                    actions.extend(unit)
                else:
                    overflowing_authorizations.append(unit)
            for pk, sk in revoked:
                if len(actions) < _TRANSACTION_ACTIONS:
                    actions.append(dynamo.delete_action(self.table, pk, sk))
                else:
                    overflowing_revoked.append((pk, sk))
            try:
                self._delete_keys(overflowing_revoked)  # invisible ones first
                version = self._remove_authorizations(deletion.agent, overflowing_authorizations)
                actions[0] = self._agent_delete_action(deletion.agent.id, version)
                dynamo.transact(actions)
                ci_access_copies().forget(
                    ci_access_key_of_mirror(sk) for _, sk in deletion.keys if sk.startswith(CI_ACCESS_MIRROR_PREFIX)
                )
                break
            except dynamo.TransactionConflicted:  # another agent wrote a shared CIACCESS# item
                if attempt + 1 == _DELETE_ATTEMPTS:
                    raise
                dynamo.pause_after_conflict(attempt)
            except dynamo.TransactionCancelled as cancelled:
                if not cancelled.failed(0):
                    raise StoreBusy() from None
            again = self.prepare_deletion(agent_id)
            if again is None:  # deleted by a concurrent request: the outcome asked for
                break
            deletion = again
        else:
            raise StoreBusy()

    def _dependents(self, deletion: AgentDeletion) -> tuple[list[list[dict]], list[tuple[str, str]]]:
        """What ``_removal`` leaves out: each ci_access authorisation as the actions that go
        together (its entry in the ``CIACCESS#`` item, then its mirror), and the revoked tokens' keys."""
        in_transaction = (AGENT_SK, URL_CONFIGURATION_SK, USER_ACCESS_SK)
        rest = [
            key for key in deletion.keys if key[1] not in in_transaction and not key[1].startswith(ACTIVE_TOKEN_PREFIX)
        ]
        mirrors = [key for key in rest if key[1].startswith(CI_ACCESS_MIRROR_PREFIX)]
        return (
            [ci_access_entry_removal(self.table, deletion.agent.id, mirror) for mirror in mirrors],
            [key for key in rest if not key[1].startswith(CI_ACCESS_MIRROR_PREFIX)],
        )

    def _remove_authorizations(self, agent: Agent, units: list[list[dict]]) -> int:
        """Authorisations that do not fit in the deleting transaction, in transactions of their own
        (BatchWriteItem cannot remove an attribute): each entry goes with its mirror, and each
        transaction moves the agent's ``version`` on, on condition that it is still the one read.
        So a concurrent ``ci_access`` replacement computed from a read before this removal fails its
        own version condition and reads again (it would otherwise take the removed authorisations
        as still stored, and, should the deleting transaction then fail, leave them missing for an
        agent that lives on); and a concurrent change since our read fails this one (TransactionCancelled
        on the first action: the deletion reads the partition again). Returns the version now stored."""
        per_transaction = (_TRANSACTION_ACTIONS - 1) // 2
        version = agent.version
        for start in range(0, len(units), per_transaction):
            bump = dynamo.update_action(
                self.table,
                agent_pk(agent.id),
                AGENT_SK,
                "SET #version = :next",
                "attribute_exists(pk) AND (attribute_not_exists(#version) OR #version = :version)",
                names={"#version": "version"},
                values={":version": version, ":next": version + 1},
            )
            dynamo.transact([bump, *(action for unit in units[start : start + per_transaction] for action in unit)])
            version += 1
        return version

    def _agent_delete_action(self, agent_id: int, version: int) -> dict:
        """The deleting transaction's first action: the agent item, on the version read (or moved
        on by ``_remove_authorizations``)."""
        return dynamo.delete_action(
            self.table,
            agent_pk(agent_id),
            AGENT_SK,
            "attribute_exists(pk) AND (attribute_not_exists(#version) OR #version = :version)",
            names={"#version": "version"},
            values={":version": version},
        )

    def _removal(self, deletion: AgentDeletion) -> list[dict]:
        agent = deletion.agent
        index_pk, index_sk = name_index_key(agent.project_id, agent.name)
        actions = [
            self._agent_delete_action(agent.id, agent.version),
            dynamo.delete_action(
                self.table,
                index_pk,
                index_sk,
                "attribute_not_exists(pk) OR #id = :id",
                names={"#id": "id"},
                values={":id": agent.id},
            ),
            dynamo.update_action(
                self.table,
                *stats_key(agent.project_id),
                "ADD #count :minus_one",
                names={"#count": "agent_count"},
                values={":minus_one": -1},
            ),
        ]
        for pk, sk in deletion.keys:
            if sk in (URL_CONFIGURATION_SK, USER_ACCESS_SK) or sk.startswith(ACTIVE_TOKEN_PREFIX):
                actions.append(dynamo.delete_action(self.table, pk, sk))
            if sk == URL_CONFIGURATION_SK:  # its copy in the receptive-agents index goes with it
                actions.append(dynamo.delete_action(self.table, *receptive_key(agent.id)))
                actions.append(receptive_index.raise_generation(self.table))
        actions.extend(dynamo.delete_action(self.table, *token_digest_key(d)) for d in deletion.token_digests)
        return actions

    def _delete_keys(self, keys: list[tuple[str, str]]) -> None:
        """BatchWriteItem deletes, 25 at a time, retrying what DynamoDB leaves unprocessed."""
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), _BATCH_WRITE_SIZE):
            pending = {
                self.table: [
                    {"DeleteRequest": {"Key": dynamo.key(pk, sk)}}
                    for pk, sk in unique[start : start + _BATCH_WRITE_SIZE]
                ]
            }
            for attempt in range(dynamo.UNPROCESSED_RETRIES):
                with dynamo.translated():
                    response = dynamo.ddb().batch_write_item(RequestItems=pending)
                pending = response.get("UnprocessedItems") or {}
                if not pending:
                    break
                dynamo.pause_before_unprocessed(attempt)
            else:
                raise StoreBusy(throttled=True)


def _is_index(item: dict[str, Any]) -> bool:
    return item["sk"].startswith(NAME_INDEX_PREFIX)


def _agent_count(items: list[dict[str, Any]]) -> int:
    stats = next((i for i in items if i["sk"] == STATS_SK), None)
    return max(0, int(stats.get("agent_count", 0))) if stats else 0


@functools.cache
def agents() -> AgentRepository:
    return AgentRepository(get_settings().agents_table)
