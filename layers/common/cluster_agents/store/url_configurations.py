"""Receptive agents' URL configurations in the agents table (key layout: ``store/keys.py``).

An agent's configuration lives at the fixed key ``AGENT#<agent id> / U``, so "at most one per
agent" is the ``attribute_not_exists`` condition of the write that creates it. The same
transaction marks the agent (and its name-index copy) receptive, bumps the agent's ``version``
and puts the configuration's entry in the receptive-agents index (``store/receptive_index.py``:
what the agent server's list needs, nothing more), raising the index's generation; deleting
reverses all of it at once, as does deleting the agent. So the agent server's list reads the
index's generation and, only when it moved, that index: never the agents or projects stored,
and every entry it sees is whole.

The private material (a given mTLS client key, or the generated Ed25519 private key) is stored
only as a KMS envelope (``crypto.encrypt``) bound to ``url_configuration:<id>``."""

from __future__ import annotations

import functools
from typing import Any

from cluster_agents import clock, crypto
from cluster_agents.domain.agents import Agent
from cluster_agents.domain.url_configurations import (
    PrivateKind,
    ReceptiveAgent,
    UrlConfiguration,
    UrlConfigurationDraft,
)
from cluster_agents.errors import AgentNotFound, UrlConfigurationExists, UrlConfigurationNotFound
from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo, ids, receptive_index
from cluster_agents.store.agents import agent_from_item
from cluster_agents.store.keys import (
    AGENT_SK,
    URL_CONFIGURATION_COUNTER,
    URL_CONFIGURATION_SK,
    agent_key,
    agent_pk,
    name_index_key,
    receptive_key,
    url_configuration_key,
)
from cluster_agents.store.receptive_index import SEALED_ATTRIBUTE

_NAMES = {"#id": "id", "#receptive": "is_receptive", "#updated": "updated_at", "#version": "version"}


def encryption_context(configuration_id: int) -> str:
    return f"url_configuration:{configuration_id}"


def _bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    return bytes(value.value) if hasattr(value, "value") else bytes(value)


def configuration_from_item(item: dict[str, Any]) -> UrlConfiguration:
    return UrlConfiguration(
        id=item["id"],
        agent_id=item["agent_id"],
        project_id=item["project_id"],
        url=item["url"],
        public_key=_bytes(item.get("public_key")),
        client_cert=_bytes(item.get("client_cert")),
        ca_cert=_bytes(item.get("ca_cert")),
        tls_host=item.get("tls_host"),
        created_by_user_id=item["created_by_user_id"],
        created_at=item["created_at"],
        updated_at=item.get("updated_at") or item["created_at"],
    )


class UrlConfigurationRepository:
    """The URL configuration of an agent: read, create within the one-per-agent limit, delete."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.receptive_index = receptive_index.ReceptiveIndex(table)

    def for_agent(self, agent_id: int) -> UrlConfiguration | None:
        item = dynamo.get(self.table, *url_configuration_key(agent_id))
        return configuration_from_item(item) if item else None

    def with_agent_read(self, agent_id: int) -> dynamo.Read[tuple[Agent | None, UrlConfiguration | None]]:
        """The agent and its configuration, as a read that other repositories' keys can join
        (``dynamo.read_together``: one BatchGetItem)."""
        agent_item_key, configuration_key = agent_key(agent_id), url_configuration_key(agent_id)

        def answer(found: dict[tuple[str, str], dict]) -> tuple[Agent | None, UrlConfiguration | None]:
            agent, configuration = found.get(agent_item_key), found.get(configuration_key)
            return (
                agent_from_item(agent) if agent else None,
                configuration_from_item(configuration) if configuration else None,
            )

        return dynamo.Read(self.table, (agent_item_key, configuration_key), answer)

    def create_for_agent(self, agent: Agent, draft: UrlConfigurationDraft, created_by_user_id: int) -> UrlConfiguration:
        """Store ``draft`` as the agent's only configuration and mark the agent receptive.

        Raises UrlConfigurationExists when the agent has one (also when another request won the
        race), AgentNotFound when the agent was deleted meanwhile."""
        configuration_id = ids.next_id(self.table, URL_CONFIGURATION_COUNTER)
        now = clock.now_iso()
        configuration = UrlConfiguration(
            id=configuration_id,
            agent_id=agent.id,
            project_id=agent.project_id,
            url=draft.url,
            public_key=draft.public_key,
            client_cert=draft.client_cert,
            ca_cert=draft.ca_cert,
            tls_host=draft.tls_host,
            created_by_user_id=created_by_user_id,
            created_at=now,
            updated_at=now,
        )
        item = {
            "pk": agent_pk(agent.id),
            "sk": URL_CONFIGURATION_SK,
            "id": configuration_id,
            "agent_id": agent.id,
            "project_id": agent.project_id,
            "url": draft.url,
            "public_key": draft.public_key,
            "client_cert": draft.client_cert,
            "ca_cert": draft.ca_cert,
            "tls_host": draft.tls_host,
            "created_by_user_id": created_by_user_id,
            "created_at": now,
            "updated_at": now,
            SEALED_ATTRIBUTE[draft.private_kind]: crypto.encrypt(
                draft.private_material, encryption_context(configuration_id)
            ),
        }
        try:
            dynamo.transact_through_conflicts(
                [
                    dynamo.put_action(self.table, item, "attribute_not_exists(pk)"),
                    *self._mark_agent(agent, receptive=True, now=now),
                    dynamo.put_action(self.table, receptive_index.entry_for(item)),
                    receptive_index.raise_generation(self.table),
                ]
            )
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise UrlConfigurationExists() from None
            raise AgentNotFound() from None
        return configuration

    def delete(self, agent: Agent, configuration: UrlConfiguration) -> None:
        """Delete the agent's configuration and clear ``is_receptive``; UrlConfigurationNotFound
        when it is already gone (a concurrent delete), AgentNotFound when the agent is."""
        try:
            dynamo.transact_through_conflicts(
                [
                    dynamo.delete_action(
                        self.table,
                        agent_pk(agent.id),
                        URL_CONFIGURATION_SK,
                        "#id = :id",
                        names={"#id": "id"},
                        values={":id": configuration.id},
                    ),
                    *self._mark_agent(agent, receptive=False, now=clock.now_iso()),
                    dynamo.delete_action(self.table, *receptive_key(agent.id)),
                    receptive_index.raise_generation(self.table),
                ]
            )
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise UrlConfigurationNotFound() from None
            raise AgentNotFound() from None

    def list_receptive(self) -> list[ReceptiveAgent]:
        """Every receptive agent in agent id order, private material decrypted (for the agent
        server alone), from the receptive-agents index as this container last read it while current
        (``store/receptive_index.py``): the sealed entries are kept, decrypted for each answer. Each
        entry was written whole with its configuration and goes with it, so a configuration or agent
        deleted meanwhile is listed whole or not at all."""
        return [_receptive_from_item(item) for item in self.receptive_index.entries()]

    def index(self, configuration_item: dict[str, Any]) -> bool:
        """Give a configuration written before the receptive-agents index existed its entry (an
        operator's backfill): put only where there is none, and only while the configuration (the
        same id) is still there, in one transaction, so a concurrent delete wins cleanly. Returns
        whether an entry was written."""
        agent_id = configuration_item["agent_id"]
        try:
            dynamo.transact_through_conflicts(
                [
                    dynamo.condition_action(
                        self.table,
                        agent_pk(agent_id),
                        URL_CONFIGURATION_SK,
                        "#id = :id",
                        names={"#id": "id"},
                        values={":id": configuration_item["id"]},
                    ),
                    dynamo.put_action(
                        self.table, receptive_index.entry_for(configuration_item), "attribute_not_exists(pk)"
                    ),
                    receptive_index.raise_generation(self.table),
                ]
            )
        except dynamo.TransactionCancelled:
            return False
        return True

    def private_material(self, agent_id: int) -> tuple[PrivateKind, bytes] | None:
        """The decrypted private key of the agent's configuration (for the agent server side):
        ``("private_key", 32 raw Ed25519 bytes)`` or ``("client_key", PEM)``."""
        item = dynamo.get(self.table, *url_configuration_key(agent_id))
        if not item:
            return None
        for kind, attribute in SEALED_ATTRIBUTE.items():
            if item.get(attribute):
                return kind, crypto.decrypt(item[attribute], encryption_context(item["id"]))
        return None

    def _mark_agent(self, agent: Agent, *, receptive: bool, now: str) -> list[dict]:
        """Set ``is_receptive`` on the agent (bumping its version) and on its name-index copy."""
        index_pk, index_sk = name_index_key(agent.project_id, agent.name)
        return [
            dynamo.update_action(
                self.table,
                agent_pk(agent.id),
                AGENT_SK,
                "SET #receptive = :receptive, #updated = :now, #version = if_not_exists(#version, :zero) + :one",
                "attribute_exists(pk)",
                names={key: _NAMES[key] for key in ("#receptive", "#updated", "#version")},
                values={":receptive": receptive, ":now": now, ":zero": 0, ":one": 1},
            ),
            dynamo.update_action(
                self.table,
                index_pk,
                index_sk,
                "SET #receptive = :receptive, #updated = :now",
                "#id = :agent_id",
                names={key: _NAMES[key] for key in ("#id", "#receptive", "#updated")},
                values={":receptive": receptive, ":now": now, ":agent_id": agent.id},
            ),
        ]


def _receptive_from_item(item: dict[str, Any]) -> ReceptiveAgent:
    unsealed: dict[PrivateKind, bytes | None] = {
        kind: crypto.decrypt(item[attribute], encryption_context(item["id"])) if item.get(attribute) else None
        for kind, attribute in SEALED_ATTRIBUTE.items()
    }
    return ReceptiveAgent(
        agent_id=item["agent_id"],
        url=item["url"],
        ca_cert=_bytes(item.get("ca_cert")),
        tls_host=item.get("tls_host"),
        private_key=unsealed["private_key"],
        client_key=unsealed["client_key"],
        client_cert=_bytes(item.get("client_cert")),
    )


@functools.cache
def url_configurations() -> UrlConfigurationRepository:
    return UrlConfigurationRepository(get_settings().agents_table)
