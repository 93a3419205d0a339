"""Agents' user_access state in the agents table (key layout: ``store/keys.py``).

  AGENT#<agent id> / CA     the agent's user-access configuration and what it authorises:
        config (JSON text: ``{}`` or ``{"access_as": ...}``), projects (a list of
        ``{id, g: its group and that group's ancestors, o: the owner of a personal project}``),
        groups (a list of ``{id, g: its ancestors}``), both by id; absent when it authorises nothing

One item per agent, so ``authorize_proxy_user`` reads it in the BatchGetItem that reads the agent
and the caller's token, and then only the caller's memberships: two reads at any size of the
configuration up to 100 membership keys (GitLab's limits: 500 projects and 500 groups; more keys
take more BatchGetItem requests of 100). Its sort key sorts between the agent's active tokens
(``AT#``) and its ci_access mirrors (``CI#``): the Query that reads the agent with its ci_access
state for the agent server's configuration request reads it too, and the token routes'
``begins_with(sk, "A")`` Queries do not.

It is written only by that configuration request, in the transaction that replaces the agent's
ci_access authorisations and moves the agent's ``version`` on (on condition that it is still the
version read): the stored state is always one configuration's, ci_access and user_access alike, and
nothing is written for a deleted agent. The agent's deletion deletes it in its own transaction."""

from __future__ import annotations

import functools
from typing import Any

from cluster_agents.domain.agents import Agent
from cluster_agents.domain.user_access import GroupGrant, ProjectGrant, UserAccess
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo
from cluster_agents.store.agents import agent_from_item
from cluster_agents.store.keys import USER_ACCESS_SK, agent_key, agent_pk, user_access_key


def user_access_from_item(item: dict[str, Any] | None) -> UserAccess | None:
    if not item:
        return None
    return UserAccess(
        config=item["config"],
        projects=tuple(ProjectGrant(p["id"], tuple(p.get("g", ())), p.get("o")) for p in item.get("projects", [])),
        groups=tuple(GroupGrant(g["id"], tuple(g.get("g", ()))) for g in item.get("groups", [])),
    )


def user_access_item(agent_id: int, user_access: UserAccess) -> dict[str, Any]:
    return {
        "pk": agent_pk(agent_id),
        "sk": USER_ACCESS_SK,
        "agent_id": agent_id,
        "config": user_access.config,
        "projects": [
            {"id": p.id, "g": list(p.group_ids), **({"o": p.owner_id} if p.owner_id is not None else {})}
            for p in user_access.projects
        ],
        "groups": [{"id": g.id, "g": list(g.ancestor_ids)} for g in user_access.groups],
    }


def replacement_action(table: str, agent_id: int, wanted: UserAccess | None) -> dict:
    """The write that makes the agent's stored user access ``wanted`` (None: none): for the
    transaction that also moves the agent's version on."""
    if wanted is None:
        return dynamo.delete_action(table, *user_access_key(agent_id))
    return dynamo.put_action(table, user_access_item(agent_id, wanted))


class UserAccessRepository:
    """The read side of ``authorize_proxy_user``."""

    def __init__(self, table: str) -> None:
        self.table = table

    def of_agent(self, agent_id: int) -> dynamo.Read[tuple[Agent | None, UserAccess | None]]:
        """The agent and its user access: a read for ``dynamo.read_together`` (two keys)."""
        agent_item_key, access_key = agent_key(agent_id), user_access_key(agent_id)

        def answer(found: dict[tuple[str, str], dict]) -> tuple[Agent | None, UserAccess | None]:
            agent_item = found.get(agent_item_key)
            if agent_item is None:
                return None, None
            return agent_from_item(agent_item), user_access_from_item(found.get(access_key))

        return dynamo.Read(self.table, (agent_item_key, access_key), answer)


@functools.cache
def user_access() -> UserAccessRepository:
    return UserAccessRepository(get_settings().agents_table)
