"""Agent tokens in the agents table (key layout: ``store/keys.py``).

The two-active-token limit is a condition of the write that creates a token: the agent item's
``active_tokens`` is raised in the same transaction, on the condition that it is below the limit,
so no number of concurrent requests can pass it. Revoking moves ``AT#`` to ``RT#``, deletes the
lookup item and lowers the counter, again in one transaction. The secret itself is never seen
here: only its keyed digest (``crypto.digest``) is stored, as the lookup item's key.

An agent's tokens are numbered in the order they were made, as GitLab's sequence numbers them (its
never-used tokens are listed oldest first, by id). Ids come from the container's block
(``store/ids.py``), which another container's blocks interleave, so the same transaction sets the
agent item's ``last_token_id`` on condition that the new id is above it. A block id that is not
(another container made the agent's last token from a later block) is replaced by a fresh one
from the counter, above every id handed out so far, and the transaction sent again.

Recording ``last_used_at`` without a write per call
---------------------------------------------------
GitLab (``Clusters::AgentTokens::TrackUsageService``) writes the time of every use to Redis, which
its readers consult first (``cached_attr_reader :last_used_at``), and writes the database column
only when the stored value is older than a random 40-55 minutes. There is no shared cache between
Lambda containers here: the token item itself is what the token API reads (single GET, and the
list's ``last_used_at`` order). So the throttle is on that item, with a short window instead:

* every authentication already reads the token item (it must, to know the token is active), so
  the stored value is known for free;
* when it is missing or older than ``WRITE_INTERVAL`` (60 s), one conditional UpdateItem sets it:
  ``SET last_used_at = :now`` if the item still exists and its value is still older than
  ``:now - WRITE_INTERVAL``. The condition makes the write idempotent across containers (however
  many uses arrive at once, at most one write per token per window succeeds; the others fail the
  condition and are ignored), never moves the value backwards, and never recreates the item of a
  token revoked (moved to ``RT#``) or deleted meanwhile;
* otherwise nothing is written.

What readers see: the first use of a token is visible at once (its write happens before the
response); afterwards the value shown is never more than ``WRITE_INTERVAL`` older than the true
last use (``true last use - 60 s <= shown <= true last use``) and never goes backwards. A token
costs at most one write a minute however hot it is, against one per call unthrottled. The price:
two tokens both used within the same minute may list in the wrong relative order (GitLab orders its
list by the database column, so it can be wrong for up to 55 minutes). A failed write (throttling)
is logged and dropped, as GitLab drops it: usage tracking never fails an agent's request."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cluster_agents import clock
from cluster_agents.domain.agents import TOKEN_LIMIT, Agent, AgentToken
from cluster_agents.errors import AgentNotFound, StoreBusy, TokenLimitReached
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo, ids
from cluster_agents.store.agents import agent_from_item
from cluster_agents.store.keys import (
    ACTIVE_TOKEN_PREFIX,
    AGENT_SK,
    AGENT_TOKEN_COUNTER,
    REVOKED_TOKEN_PREFIX,
    agent_key,
    agent_pk,
    token_digest_key,
    token_sk,
)

WRITE_INTERVAL = timedelta(seconds=60)  # how stale a stored last_used_at may get
_NAMES = {"#active": "active_tokens", "#version": "version"}
_ORDER_ATTEMPTS = 3  # a fresh id per attempt: another container can only beat it so often


@dataclass(frozen=True)
class AuthenticatedAgentToken:
    """An active token and its agent, as read when it authenticated."""

    agent: Agent
    token_id: int
    last_used_at: str | None  # as stored


@dataclass(frozen=True)
class StoredToken:
    """A token as stored: the record, and the item that revoking it copies and removes."""

    token: AgentToken
    item: dict[str, Any]


def token_from_item(item: dict[str, Any]) -> AgentToken:
    return AgentToken(
        id=item["id"],
        agent_id=item["agent_id"],
        name=item["name"],
        description=item.get("description"),
        status="active" if item["sk"].startswith(ACTIVE_TOKEN_PREFIX) else "revoked",
        created_at=item["created_at"],
        created_by_user_id=item["created_by_user_id"],
        last_used_at=item.get("last_used_at"),
    )


class _OutOfOrder(Exception):
    """The agent's last token has a higher id than the one this creation took."""


class AgentTokenRepository:
    """An agent's tokens: create within the limit, read, list the active ones, revoke."""

    def __init__(self, table: str) -> None:
        self.table = table

    def create_token_within_limit(
        self,
        project_id: int,
        agent_id: int,
        name: str,
        description: str | None,
        created_by_user_id: int,
        token_digest: str,
    ) -> AgentToken:
        """One transaction: the agent's ``active_tokens`` + 1 (condition: the agent exists in this
        project with fewer than two, and the token's id is above its ``last_token_id``), the
        token, its lookup item. AgentNotFound / TokenLimitReached when the condition fails."""
        token_id, fresh = ids.next_id(self.table, AGENT_TOKEN_COUNTER), False
        for _ in range(_ORDER_ATTEMPTS):
            try:
                return self._create(
                    project_id, agent_id, token_id, fresh, name, description, created_by_user_id, token_digest
                )
            except _OutOfOrder:
                token_id, fresh = ids.reserve_ids(self.table, AGENT_TOKEN_COUNTER, 1), True
        raise StoreBusy()

    def _create(
        self,
        project_id: int,
        agent_id: int,
        token_id: int,
        fresh: bool,
        name: str,
        description: str | None,
        created_by_user_id: int,
        token_digest: str,
    ) -> AgentToken:
        """``fresh``: the id came straight from the counter, above every id handed out before it,
        so also above the tokens of an agent that has active ones but no ``last_token_id`` yet (made
        before it was kept); a block id is taken for such an agent only while it has none."""
        fields = {
            "id": token_id,
            "agent_id": agent_id,
            "project_id": project_id,
            "name": name,
            "description": description,
            "status": "active",
            "created_at": clock.now_iso(),
            "created_by_user_id": created_by_user_id,
        }
        lookup_pk, lookup_sk = token_digest_key(token_digest)
        try:
            dynamo.transact(
                [
                    dynamo.update_action(
                        self.table,
                        agent_pk(agent_id),
                        AGENT_SK,
                        "SET #active = if_not_exists(#active, :zero) + :one, "
                        "#version = if_not_exists(#version, :zero) + :one, #last = :id",
                        "attribute_exists(pk) AND #project = :project "
                        "AND (attribute_not_exists(#active) OR #active < :limit) "
                        "AND (#last < :id OR "
                        + (
                            "attribute_not_exists(#last))"
                            if fresh
                            else "(attribute_not_exists(#last) AND (attribute_not_exists(#active) OR #active = :zero)))"
                        ),
                        names={**_NAMES, "#project": "project_id", "#last": "last_token_id"},
                        values={":zero": 0, ":one": 1, ":limit": TOKEN_LIMIT, ":project": project_id, ":id": token_id},
                    ),
                    dynamo.put_action(
                        self.table,
                        {
                            "pk": agent_pk(agent_id),
                            "sk": token_sk(ACTIVE_TOKEN_PREFIX, token_id),
                            **fields,
                            "token_digest": token_digest,
                        },
                        "attribute_not_exists(pk)",
                    ),
                    dynamo.put_action(
                        self.table,
                        {
                            "pk": lookup_pk,
                            "sk": lookup_sk,
                            "agent_id": agent_id,
                            "token_id": token_id,
                            "project_id": project_id,
                        },
                        "attribute_not_exists(pk)",
                    ),
                ]
            )
        except dynamo.TransactionCancelled as cancelled:
            if not cancelled.failed(0):
                raise StoreBusy() from None  # an id or digest collision: nothing was written
            agent = dynamo.get(self.table, *agent_key(agent_id))
            if agent is None or agent["project_id"] != project_id:
                raise AgentNotFound() from None
            if int(agent.get("active_tokens") or 0) >= TOKEN_LIMIT:
                raise TokenLimitReached() from None
            raise _OutOfOrder() from None
        return token_from_item({**fields, "sk": token_sk(ACTIVE_TOKEN_PREFIX, token_id)})

    def get(self, agent_id: int, token_id: int) -> StoredToken | None:
        """The token, active or revoked (one BatchGet of ``AT#``/``RT#``)."""
        return self.get_with_agent(agent_id, token_id, with_agent=False)[1]

    def get_with_agent(
        self, agent_id: int, token_id: int, *, with_agent: bool = True
    ) -> tuple[Agent | None, StoredToken | None]:
        """The agent and its token (active or revoked), in one BatchGet."""
        pk = agent_pk(agent_id)
        keys = [(pk, token_sk(ACTIVE_TOKEN_PREFIX, token_id)), (pk, token_sk(REVOKED_TOKEN_PREFIX, token_id))]
        if with_agent:
            keys.append((pk, AGENT_SK))
        found = dynamo.batch_get({self.table: keys})[self.table]
        agent_item = found.get((pk, AGENT_SK))
        token_item = found.get(keys[0]) or found.get(keys[1])
        return (
            agent_from_item(agent_item) if agent_item else None,
            StoredToken(token_from_item(token_item), token_item) if token_item else None,
        )

    def list_active(self, agent_id: int) -> tuple[Agent | None, list[AgentToken]]:
        """The agent and its active tokens: ONE Query of ``begins_with(sk, "A")`` ("A", "AT#...");
        revoked tokens (``RT#``) are never read."""
        items = dynamo.query_all(self.table, agent_pk(agent_id), sk_prefix=AGENT_SK)
        agent = next((agent_from_item(i) for i in items if i["sk"] == AGENT_SK), None)
        return agent, [token_from_item(i) for i in items if i["sk"].startswith(ACTIVE_TOKEN_PREFIX)]

    def revoke(self, stored: StoredToken) -> None:
        """Revoke an active token in one transaction: delete ``AT#`` (condition: it exists), put
        the ``RT#`` copy, delete the lookup item, lower the agent's counter. A revoked token is left
        as it is; so is one that a concurrent request revoked first. AgentNotFound when the agent
        was deleted meanwhile."""
        if not stored.token.active:
            return
        item = stored.item
        agent_id, token_id = stored.token.agent_id, stored.token.id
        revoked = {key: value for key, value in item.items() if key != "token_digest"}
        revoked.update(
            {"sk": token_sk(REVOKED_TOKEN_PREFIX, token_id), "status": "revoked", "revoked_at": clock.now_iso()}
        )
        try:
            dynamo.transact(
                [
                    dynamo.delete_action(self.table, item["pk"], item["sk"], "attribute_exists(pk)"),
                    dynamo.put_action(self.table, revoked),
                    dynamo.delete_action(self.table, *token_digest_key(item["token_digest"])),
                    dynamo.update_action(
                        self.table,
                        agent_pk(agent_id),
                        AGENT_SK,
                        "SET #active = if_not_exists(#active, :one) - :one, "
                        "#version = if_not_exists(#version, :zero) + :one",
                        "attribute_exists(pk)",
                        names=_NAMES,
                        values={":one": 1, ":zero": 0},
                    ),
                ]
            )
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(3):
                raise AgentNotFound() from None
            if cancelled.failed(0):
                return  # revoked by a concurrent request
            raise StoreBusy() from None

    def find_active_by_digest(self, token_digest: str) -> AuthenticatedAgentToken | None:
        """The active token with this digest and its agent (two strongly consistent reads), or
        None when unknown, revoked, or its agent is gone."""
        pointer = dynamo.get(self.table, *token_digest_key(token_digest))
        if pointer is None:
            return None
        agent_id, token_id = int(pointer["agent_id"]), int(pointer["token_id"])
        # The agent item "A" and its active tokens "AT#..." share the prefix "A".
        items = {item["sk"]: item for item in dynamo.query_all(self.table, agent_pk(agent_id), sk_prefix="A")}
        agent_item, token_item = items.get(AGENT_SK), items.get(token_sk(ACTIVE_TOKEN_PREFIX, token_id))
        if agent_item is None or token_item is None:
            return None
        return AuthenticatedAgentToken(agent_from_item(agent_item), token_id, token_item.get("last_used_at"))

    def record_use(self, token: AuthenticatedAgentToken, now: datetime | None = None) -> bool:
        """Record that ``token`` was used ``now``, throttled (see the module docstring).
        Returns whether the stored value was written."""
        sk = token_sk(ACTIVE_TOKEN_PREFIX, token.token_id)
        return dynamo.record_last_use(
            self.table, agent_pk(token.agent.id), sk, token.last_used_at, now or clock.now(), WRITE_INTERVAL
        )


@functools.cache
def agent_tokens() -> AgentTokenRepository:
    return AgentTokenRepository(get_settings().agents_table)
