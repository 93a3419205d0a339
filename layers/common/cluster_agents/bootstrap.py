"""The root administrator that exists from the start (SPEC §5), seeded idempotently."""

from __future__ import annotations

from cluster_agents import clock
from cluster_agents.crypto import digest, random_token
from cluster_agents.domain.models import PersonalAccessToken, User
from cluster_agents.errors import Conflict
from cluster_agents.services.world import PAT_PREFIX
from cluster_agents.store.namespaces import namespaces
from cluster_agents.store.personal_access_tokens import personal_access_tokens
from cluster_agents.store.users import users

ROOT_USERNAME = "root"


def seed_root(token: str | None = None) -> str | None:
    """Make sure ``root`` exists and, when ``token`` is given, that it is a valid root PAT.

    Returns a newly generated token when root had to be created and no token was given
    (the caller shows it once); otherwise None."""
    user_id = users().find_id_by_username(ROOT_USERNAME)
    root = users().get(user_id) if user_id else None
    created = False
    if root is None:
        root = User(
            id=namespaces().next_id(),
            username=ROOT_USERNAME,
            name="Administrator",
            email="admin@example.com",
            is_admin=True,
            created_at=clock.now_iso(),
        )
        try:
            users().create(root)
            created = True
        except Conflict:  # another process seeded it first
            user_id = users().find_id_by_username(ROOT_USERNAME)
            root = (users().get(user_id) if user_id else None) or root
    generated = None
    if token is None and created:
        token = generated = random_token(PAT_PREFIX, 20)
    if token is not None and personal_access_tokens().get_pat_by_digest(digest(token)) is None:
        pat = PersonalAccessToken(
            id=personal_access_tokens().next_id(),
            user_id=root.id,
            name="root-token",
            scopes=("api",),
            created_at=clock.now_iso(),
        )
        personal_access_tokens().create_pat(pat, digest(token), root)
    return generated
