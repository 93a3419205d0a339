"""Agent tokens as the agent server sees them: authenticate one by its digest, record its use.

Key layout: ``store/agents.py`` (``AGENTTOKEN#<digest>`` -> agent_id, token_id; the agent at
``AGENT#<id> / A``; an active token at ``AGENT#<id> / AT#<token id:012d>`` with ``last_used_at``).

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

from cluster_agents import clock
from cluster_agents.domain.agents import Agent
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo
from cluster_agents.store.agents import (
    ACTIVE_TOKEN_PREFIX,
    AGENT_SK,
    agent_from_item,
    agent_pk,
    token_digest_key,
)

WRITE_INTERVAL = timedelta(seconds=60)


def active_token_sk(token_id: int) -> str:
    return f"{ACTIVE_TOKEN_PREFIX}{token_id:012d}"


@dataclass(frozen=True)
class AuthenticatedAgentToken:
    """An active token and its agent, as read when it authenticated."""

    agent: Agent
    token_id: int
    last_used_at: str | None  # as stored


class AgentTokenUsageRepository:
    def __init__(self, table: str) -> None:
        self.table = table

    def find_active_by_digest(self, token_digest: str) -> AuthenticatedAgentToken | None:
        """The active token with this digest and its agent (two strongly consistent reads), or
        None when unknown, revoked, or its agent is gone."""
        pointer = dynamo.get(self.table, *token_digest_key(token_digest))
        if pointer is None:
            return None
        agent_id, token_id = int(pointer["agent_id"]), int(pointer["token_id"])
        # The agent item "A" and its active tokens "AT#..." share the prefix "A".
        items = {item["sk"]: item for item in dynamo.query_all(self.table, agent_pk(agent_id), sk_prefix="A")}
        agent_item, token_item = items.get(AGENT_SK), items.get(active_token_sk(token_id))
        if agent_item is None or token_item is None:
            return None
        return AuthenticatedAgentToken(agent_from_item(agent_item), token_id, token_item.get("last_used_at"))

    def record_use(self, token: AuthenticatedAgentToken, now: datetime | None = None) -> bool:
        """Record that ``token`` was used ``now``, throttled (see the module docstring).
        Returns whether the stored value was written."""
        now = now or clock.now()
        threshold = clock.iso(now - WRITE_INTERVAL)
        if token.last_used_at is not None and token.last_used_at >= threshold:
            return False
        from botocore.exceptions import ClientError

        try:
            with dynamo.translated():
                dynamo.ddb().update_item(
                    TableName=self.table,
                    Key=dynamo.key(agent_pk(token.agent.id), active_token_sk(token.token_id)),
                    UpdateExpression="SET #used = :now",
                    ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#used) OR "
                                        "attribute_type(#used, :null) OR #used < :threshold)",
                    ExpressionAttributeNames={"#used": "last_used_at"},
                    ExpressionAttributeValues={":now": {"S": clock.iso(now)}, ":threshold": {"S": threshold},
                                               ":null": {"S": "NULL"}},
                )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False  # another container recorded a use within the window, or the token is gone
        return True


@functools.cache
def agent_token_usage() -> AgentTokenUsageRepository:
    return AgentTokenUsageRepository(get_settings().agents_table)
