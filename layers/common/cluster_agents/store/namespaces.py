"""Namespaces in the directory table (key layout: ``store/keys.py``): the paths that users and
groups share, unique case-insensitively, and their one id space (a ``namespace_id`` names either,
as in GitLab). A namespace is claimed in the transaction that creates its user or group."""

from __future__ import annotations

import functools

from cluster_agents.settings import get_settings
from cluster_agents.store import dynamo, ids
from cluster_agents.store.keys import NAMESPACE_COUNTER, namespace_key


def claim_action(table: str, full_path: str, kind: str, owner_id: int) -> dict:
    """The write that claims ``full_path`` for a user or group (fails when it is taken): for the
    transaction that creates its owner."""
    pk, sk = namespace_key(full_path)
    return dynamo.put_action(table, {"pk": pk, "sk": sk, "kind": kind, "id": owner_id}, "attribute_not_exists(pk)")


class NamespaceRepository:
    """Which user or group a path names, and the ids they are numbered with."""

    def __init__(self, table: str) -> None:
        self.table = table

    def next_id(self) -> int:
        return ids.next_id(self.table, NAMESPACE_COUNTER)

    def find(self, full_path: str) -> tuple[str, int] | None:
        """``(kind, id)`` of the user or group at ``full_path``, or None."""
        item = dynamo.get(self.table, *namespace_key(full_path))
        return (item["kind"], item["id"]) if item else None


@functools.cache
def namespaces() -> NamespaceRepository:
    return NamespaceRepository(get_settings().directory_table)
