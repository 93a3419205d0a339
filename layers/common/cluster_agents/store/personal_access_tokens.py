"""Personal access tokens in the directory table (key layout: ``store/keys.py``):
``PAT#<digest> / PAT`` holds the token with a snapshot of its user and ``last_used_at``;
``PATID#<id> / PATID`` points from the token's id to its digest (for revocation by id)."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from cluster_agents import clock
from cluster_agents.domain.models import PersonalAccessToken, User
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo, ids
from cluster_agents.store.keys import PERSONAL_ACCESS_TOKEN_COUNTER, pat_id_key, pat_key

PAT_USE_INTERVAL = timedelta(seconds=60)  # how stale a stored last_used_at of a PAT may get


class PersonalAccessTokenRepository:
    """Personal access tokens: number, create, look up by digest or id, record a use, revoke."""

    def __init__(self, table: str) -> None:
        self.table = table

    def next_id(self) -> int:
        return ids.next_id(self.table, PERSONAL_ACCESS_TOKEN_COUNTER)

    def create_pat(self, token: PersonalAccessToken, digest: str, user: User) -> None:
        t = self.table
        pk, sk = pat_key(digest)
        id_pk, id_sk = pat_id_key(token.id)
        item = {
            "pk": pk,
            "sk": sk,
            "id": token.id,
            "user_id": token.user_id,
            "name": token.name,
            "scopes": list(token.scopes),
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "revoked": False,
            "description": token.description,
            "user": stored.user_fields(user),
        }
        dynamo.transact(
            [
                dynamo.put_action(t, item, "attribute_not_exists(pk)"),
                dynamo.put_action(
                    t,
                    {"pk": id_pk, "sk": id_sk, "digest": digest, "user_id": token.user_id},
                    "attribute_not_exists(pk)",
                ),
            ]
        )

    def get_pat_by_digest(self, digest: str) -> tuple[PersonalAccessToken, User] | None:
        item = dynamo.get(self.table, *pat_key(digest))
        if not item:
            return None
        return stored.pat(item), stored.user(item["user"])

    def pat_reading(self, digest: str) -> dynamo.Read[tuple[PersonalAccessToken, User] | None]:
        """``get_pat_by_digest`` as a read for ``dynamo.read_together``."""
        key = pat_key(digest)
        return dynamo.Read(
            self.table,
            (key,),
            lambda found: (stored.pat(found[key]), stored.user(found[key]["user"])) if key in found else None,
        )

    def get_pat(self, token_id: int) -> tuple[PersonalAccessToken, str] | None:
        pointer = dynamo.get(self.table, *pat_id_key(token_id))
        if not pointer:
            return None
        item = dynamo.get(self.table, *pat_key(pointer["digest"]))
        return (stored.pat(item), pointer["digest"]) if item else None

    def record_pat_use(self, digest: str, token: PersonalAccessToken, now: datetime | None = None) -> bool:
        """Record that the token with ``digest`` (as read: ``token``) was used ``now``, at most once
        per ``PAT_USE_INTERVAL`` (60 s) per token, as agent tokens do (store/agent_tokens.py): no
        write while the value read is recent enough; else one UpdateItem, on condition that the
        item exists and its value is still older than the window (so concurrent uses write once,
        the value never moves back, and a deleted token is never recreated). Returns whether it
        wrote. Throttling raises StoreBusy: the caller decides whether that may fail its request."""
        return dynamo.record_last_use(
            self.table, *pat_key(digest), token.last_used_at, now or clock.now(), PAT_USE_INTERVAL
        )

    def revoke_pat(self, digest: str) -> None:
        with dynamo.translated():
            dynamo.ddb().update_item(
                TableName=self.table,
                Key=dynamo.key(*pat_key(digest)),
                UpdateExpression="SET revoked = :true",
                ExpressionAttributeValues={":true": {"BOOL": True}},
            )


@functools.cache
def personal_access_tokens() -> PersonalAccessTokenRepository:
    return PersonalAccessTokenRepository(get_settings().directory_table)
