"""Agents and everything they own, in the agents table.

Keys (AgentsTable, pk / sk) - the contract every adapter of this table follows:
  COUNTER / agent | agent_token | url_configuration      atomic id counters
  AGENT#<id> / A                    the agent (project_id, name, created_at, created_by_user_id,
                                    is_receptive, active_tokens, version, updated_at)
  AGENT#<id> / AT#<token id:012d>   an active token (no secret: fields only)
  AGENT#<id> / RT#<token id:012d>   a revoked token, kept; never read when listing active ones
  AGENT#<id> / U                    its URL configuration (one per agent: a fixed key)
  AGENT#<id> / CI#<project|group>#<id>   mirror of one ci_access authorisation (found again on delete)
  PROJECT#<project id> / AGENT#<name>    the name index: names unique per project, agents listed
                                    in name order (a copy of the agent's fields)
  PROJECT#<project id> / #STATS     agent_count (X-Total without reading the agents)
  AGENTTOKEN#<digest> / AGENTTOKEN  token lookup -> agent_id, token_id (deleted on revocation)
  CIACCESS#<project|group>#<id> / AGENT#<agent id:012d>  an agent's ci_access authorisation of
                                    that project or group (agent_id, agent_project_id, configuration)

Every limit is a condition in the write itself: the agent item's ``active_tokens < 2`` in the
token-creating transaction, ``attribute_not_exists`` on the name index and on ``U``. Querying
``AGENT#<id>`` with ``begins_with(sk, "A")`` reads the agent and its active tokens only."""

from __future__ import annotations

import functools
from typing import Any

from cluster_agents.domain.agents import Agent
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo

AGENT_SK = "A"
ACTIVE_TOKEN_PREFIX = "AT#"
REVOKED_TOKEN_PREFIX = "RT#"
URL_CONFIGURATION_SK = "U"
CI_ACCESS_MIRROR_PREFIX = "CI#"
STATS_SK = "#STATS"


def agent_pk(agent_id: int) -> str:
    return f"AGENT#{agent_id}"


def name_index_key(project_id: int, name: str) -> tuple[str, str]:
    return f"PROJECT#{project_id}", f"AGENT#{name}"


def token_digest_key(token_digest: str) -> tuple[str, str]:
    return f"AGENTTOKEN#{token_digest}", "AGENTTOKEN"


def agent_from_item(item: dict[str, Any]) -> Agent:
    return Agent(
        id=item["id"], project_id=item["project_id"], name=item["name"], created_at=item["created_at"],
        created_by_user_id=item["created_by_user_id"], is_receptive=bool(item.get("is_receptive")),
        updated_at=item.get("updated_at") or item["created_at"], active_tokens=item.get("active_tokens", 0),
        version=item.get("version", 0),
    )


class AgentRepository:
    """Agents: registration, lookup, listing, cascade deletion."""

    def __init__(self, table: str) -> None:
        self.table = table

    def get(self, agent_id: int) -> Agent | None:
        item = dynamo.get(self.table, agent_pk(agent_id), AGENT_SK)
        return agent_from_item(item) if item else None


@functools.cache
def agents() -> AgentRepository:
    return AgentRepository(get_settings().agents_table)
