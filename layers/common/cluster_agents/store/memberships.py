"""Memberships in the directory table (key layout: ``store/keys.py``): a user's role in a project
or group, each with a snapshot of its user (so listing members reads no user item)."""

from __future__ import annotations

import functools
from collections.abc import Iterable

from cluster_agents.domain.models import Membership, User
from cluster_agents.errors import Conflict
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo
from cluster_agents.store.keys import MEMBER_SK_PREFIX, member_key, members_pk


def put_action(table: str, membership: Membership, user: User, condition: str | None = None) -> dict:
    """The write of a membership: also for the transaction that creates its group or project."""
    return dynamo.put_action(table, stored.membership_item(membership, user), condition)


class MembershipRepository:
    """Memberships: a user's of several sources at once, a source's members, add, replace, remove."""

    def __init__(self, table: str) -> None:
        self.table = table

    def of(self, user_id: int, sources: Iterable[tuple[str, int]]) -> list[Membership]:
        """The user's memberships of the given (kind, id) sources, in one round trip."""
        return dynamo.read_together(self.reading(user_id, sources))[0]

    def reading(self, user_id: int, sources: Iterable[tuple[str, int]]) -> dynamo.Read[list[Membership]]:
        """``of`` as a read for ``dynamo.read_together`` (one key per source)."""
        keys = tuple(dict.fromkeys(member_key(kind, source_id, user_id) for kind, source_id in sources))
        return dynamo.Read(
            self.table, keys, lambda found: [stored.membership(found[key]) for key in keys if key in found]
        )

    def get(self, source_kind: str, source_id: int, user_id: int) -> tuple[Membership, User] | None:
        item = dynamo.get(self.table, *member_key(source_kind, source_id, user_id))
        return (stored.membership(item), stored.user(item["user"])) if item else None

    def members_of(self, source_kind: str, source_id: int) -> list[tuple[Membership, User]]:
        items = dynamo.query_all(self.table, members_pk(source_kind, source_id), sk_prefix=MEMBER_SK_PREFIX)
        return [(stored.membership(item), stored.user(item["user"])) for item in items]

    def add(self, membership: Membership, user: User) -> None:
        try:
            dynamo.transact([put_action(self.table, membership, user, "attribute_not_exists(pk)")])
        except dynamo.TransactionCancelled:
            raise Conflict("Member already exists") from None

    def replace(self, membership: Membership, user: User) -> bool:
        """Overwrite an existing membership; False when there was none."""
        try:
            dynamo.transact([put_action(self.table, membership, user, "attribute_exists(pk)")])
        except dynamo.TransactionCancelled:
            return False
        return True

    def remove(self, source_kind: str, source_id: int, user_id: int) -> bool:
        try:
            dynamo.transact(
                [dynamo.delete_action(self.table, *member_key(source_kind, source_id, user_id), "attribute_exists(pk)")]
            )
        except dynamo.TransactionCancelled:
            return False
        return True


@functools.cache
def memberships() -> MembershipRepository:
    return MembershipRepository(get_settings().directory_table)
