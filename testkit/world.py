"""Users, groups, projects and memberships, made through the API as root.

Names: without a ``run``, a name given is used as it is (``world.group("acme")`` is ``acme``) and
one not given is numbered (``user1``); with a ``run`` (the bench, many scenarios over one storage),
every name is made unique: ``maintainer-<run>-3``."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from testkit.client import ApiClient


@dataclass
class Person:
    id: int
    username: str
    token: str  # a personal access token
    client: ApiClient  # requests as this person

    @property
    def auth(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.token}


class World:
    def __init__(self, root: ApiClient, run: str | None = None) -> None:
        self.root = root
        self.run = run
        self._seq = itertools.count(1)

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq)}" if self.run is None else f"{prefix}-{self.run}-{next(self._seq)}"

    def _name(self, given: str | None, kind: str) -> str:
        return given if given and self.run is None else self.unique(given or kind)

    def _made(self, client: ApiClient, path: str, body: dict[str, Any]) -> dict:
        made = client.post(path, json_body=body)
        assert made.status == 201, made.text
        return made.json()

    def user(
        self,
        username: str | None = None,
        scopes: list[str] | None = None,
        admin: bool = False,
        expires_at: str | None = None,
    ) -> Person:
        username = self._name(username, "user")
        body = {"username": username, "name": username.title(), "email": f"{username}@example.com", "admin": admin}
        user_id = self._made(self.root, "/users", body)["id"]
        token = self.personal_access_token(user_id, scopes, expires_at)["token"]
        return Person(user_id, username, token, self.root.as_(token))

    def personal_access_token(
        self, user_id: int, scopes: list[str] | None = None, expires_at: str | None = None
    ) -> dict:
        body: dict[str, Any] = {"name": "test", "scopes": scopes or ["api"]}
        if expires_at:
            body["expires_at"] = expires_at
        return self._made(self.root, f"/users/{user_id}/personal_access_tokens", body)

    def group(
        self,
        path: str | None = None,
        parent_id: int | None = None,
        owner: Person | None = None,
        visibility: str = "private",
    ) -> dict:
        path = self._name(path, "group")
        body = {"name": path.title(), "path": path, "parent_id": parent_id, "visibility": visibility}
        return self._made(owner.client if owner else self.root, "/groups", body)

    def project(
        self,
        name: str | None = None,
        namespace_id: int | None = None,
        owner: Person | None = None,
        visibility: str = "private",
    ) -> dict:
        body: dict[str, Any] = {"name": self._name(name, "project"), "visibility": visibility}
        if namespace_id is not None:
            body["namespace_id"] = namespace_id
        return self._made(owner.client if owner else self.root, "/projects", body)

    def member(self, kind: str, source_id: int, person: Person, access_level: int) -> None:
        """``person`` a member of the ``kind`` ("project" or "group") ``source_id``."""
        self._made(self.root, f"/{kind}s/{source_id}/members", {"user_id": person.id, "access_level": access_level})

    def remove_member(self, kind: str, source_id: int, person: Person) -> None:
        removed = self.root.delete(f"/{kind}s/{source_id}/members/{person.id}")
        assert removed.status == 204, removed.text
