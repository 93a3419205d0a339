"""Groups in the directory table (key layout: ``store/keys.py``). A group never changes once
created, so each container caches the groups it has read."""

from __future__ import annotations

import functools
from typing import Any

from cluster_agents.domain.models import Group, Membership, User
from cluster_agents.errors import ValidationFailed
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo
from cluster_agents.store import memberships as membership_writes
from cluster_agents.store.keys import group_key
from cluster_agents.store.namespaces import claim_action


class GroupRepository:
    """Groups: create (with their namespace and their creator's membership), look up by id."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._groups: dict[int, Group] = {}

    def get(self, group_id: int) -> Group | None:
        if group_id not in self._groups:
            item = dynamo.get(self.table, *group_key(group_id))
            if not item:
                return None
            self._groups[group_id] = stored.group(item)
        return self._groups[group_id]

    def cached(self, group_id: int) -> Group | None:
        """The group if this container has read it already (no request)."""
        return self._groups.get(group_id)

    def remember(self, item: dict[str, Any]) -> Group:
        """The group of an item read elsewhere (a BatchGetItem of several repositories), cached."""
        group = self._groups[item["id"]] = stored.group(item)
        return group

    def create(self, group: Group, creator_membership: Membership, creator: User) -> None:
        """One transaction: the group's namespace (the uniqueness of its path), the group, its
        creator's membership. ValidationFailed when the path is taken."""
        t = self.table
        try:
            dynamo.transact(
                [
                    claim_action(t, group.full_path, "group", group.id),
                    dynamo.put_action(t, stored.group_item(group), "attribute_not_exists(pk)"),
                    membership_writes.put_action(t, creator_membership, creator),
                ]
            )
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise ValidationFailed(["Path has already been taken"]) from None
            raise


@functools.cache
def groups() -> GroupRepository:
    return GroupRepository(get_settings().directory_table)
