"""Users in the directory table (key layout: ``store/keys.py``): a user, with its username and
e-mail address unique (case-insensitively) and its personal namespace, all written at once."""

from __future__ import annotations

import functools

from cluster_agents.domain.models import User
from cluster_agents.errors import Conflict
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo
from cluster_agents.store.keys import email_key, user_key, username_key
from cluster_agents.store.namespaces import claim_action


class UserRepository:
    """Users: create, look up by id or username."""

    def __init__(self, table: str) -> None:
        self.table = table

    def get(self, user_id: int) -> User | None:
        item = dynamo.get(self.table, *user_key(user_id))
        return stored.user(item) if item else None

    def reading(self, user_id: int) -> dynamo.Read[User | None]:
        """``get`` as a read for ``dynamo.read_together``."""
        key = user_key(user_id)
        return dynamo.Read(self.table, (key,), lambda found: stored.user(found[key]) if found else None)

    def find_id_by_username(self, username: str) -> int | None:
        item = dynamo.get(self.table, *username_key(username))
        return item["user_id"] if item else None

    def create(self, user: User) -> None:
        """Create a user with its unique username, e-mail and personal namespace, atomically."""
        t = self.table
        username_pk, username_sk = username_key(user.username)
        email_pk, email_sk = email_key(user.email)
        pk, sk = user_key(user.id)
        actions = [
            dynamo.put_action(
                t, {"pk": username_pk, "sk": username_sk, "user_id": user.id}, "attribute_not_exists(pk)"
            ),
            dynamo.put_action(t, {"pk": email_pk, "sk": email_sk, "user_id": user.id}, "attribute_not_exists(pk)"),
            claim_action(t, user.username, "user", user.id),
            dynamo.put_action(t, {"pk": pk, "sk": sk, **stored.user_fields(user)}, "attribute_not_exists(pk)"),
        ]
        try:
            dynamo.transact(actions)
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(0) or cancelled.failed(2):
                raise Conflict("Username has already been taken") from None
            if cancelled.failed(1):
                raise Conflict("Email has already been taken") from None
            raise


@functools.cache
def users() -> UserRepository:
    return UserRepository(get_settings().directory_table)
