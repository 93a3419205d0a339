"""Shared fixtures: moto with the template's tables and keys, a seeded root, and an in-process
API client that speaks API Gateway REST events to the real handlers."""

from __future__ import annotations

import base64
import itertools
import os
import sys
from dataclasses import dataclass
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ClusterAgentsApiTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cluster-agents-api")

from tests.client import ApiClient

ROOT_TOKEN = "glpat-root-token-for-tests-000"
KAS_SECRET = base64.b64encode(b"k" * 32).decode()


def reset_caches() -> None:
    """Forget every per-container cache (clients, derived keys, repositories, settings)."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("cluster_agents"):
            continue
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == name:
                value.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def dynamodb_limits() -> Any:
    """Every DynamoDB client made in this test process refuses what DynamoDB refuses and moto
    lets through (oversize keys, a Query Limit past 2^31 - 1): ``tests/dynamodb_limits.py``."""
    import boto3.session

    from tests.dynamodb_limits import guard

    make_client = boto3.session.Session.client

    def guarded_client(self: Any, *args: Any, **kwargs: Any) -> Any:
        return guard(make_client(self, *args, **kwargs))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(boto3.session.Session, "client", guarded_client)
        yield


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Any:
    """moto with every table and key of template.yaml, and the functions' environment."""
    import boto3
    from moto import mock_aws

    from devtools.template import create_resources

    with mock_aws():
        resources = create_resources(boto3.session.Session())
        for key, value in resources.function_environment().items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("KAS_SECRET", KAS_SECRET)
        reset_caches()
        yield resources
        reset_caches()


@pytest.fixture
def root_token(aws: Any) -> str:
    from cluster_agents.bootstrap import seed_root

    seed_root(ROOT_TOKEN)
    return ROOT_TOKEN


@pytest.fixture
def api(root_token: str) -> ApiClient:
    """A client authenticated as root (administrator)."""
    return ApiClient(root_token)


@dataclass
class Person:
    id: int
    username: str
    token: str
    client: ApiClient


class World:
    """Builds users, groups, projects and memberships through the API, as root."""

    def __init__(self, root: ApiClient) -> None:
        self.root = root
        self._seq = itertools.count(1)

    def user(
        self,
        username: str | None = None,
        scopes: list[str] | None = None,
        admin: bool = False,
        expires_at: str | None = None,
    ) -> Person:
        username = username or f"user{next(self._seq)}"
        made = self.root.post(
            "/users",
            json_body={
                "username": username,
                "name": username.title(),
                "email": f"{username}@example.com",
                "admin": admin,
            },
        )
        assert made.status == 201, made.text
        user_id = made.json()["id"]
        body: dict[str, Any] = {"name": "test", "scopes": scopes or ["api"]}
        if expires_at:
            body["expires_at"] = expires_at
        pat = self.root.post(f"/users/{user_id}/personal_access_tokens", json_body=body)
        assert pat.status == 201, pat.text
        token = pat.json()["token"]
        return Person(user_id, username, token, ApiClient(token))

    def group(
        self,
        path: str | None = None,
        parent_id: int | None = None,
        owner: Person | None = None,
        visibility: str = "private",
    ) -> dict:
        path = path or f"group{next(self._seq)}"
        client = owner.client if owner else self.root
        made = client.post(
            "/groups", json_body={"name": path.title(), "path": path, "parent_id": parent_id, "visibility": visibility}
        )
        assert made.status == 201, made.text
        return made.json()

    def project(
        self,
        name: str | None = None,
        namespace_id: int | None = None,
        owner: Person | None = None,
        visibility: str = "private",
    ) -> dict:
        name = name or f"project{next(self._seq)}"
        client = owner.client if owner else self.root
        body: dict[str, Any] = {"name": name, "visibility": visibility}
        if namespace_id is not None:
            body["namespace_id"] = namespace_id
        made = client.post("/projects", json_body=body)
        assert made.status == 201, made.text
        return made.json()

    def member(self, kind: str, source_id: int, person: Person, access_level: int) -> None:
        made = self.root.post(
            f"/{kind}s/{source_id}/members", json_body={"user_id": person.id, "access_level": access_level}
        )
        assert made.status == 201, made.text


@pytest.fixture
def world(api: ApiClient) -> World:
    return World(api)


E2E_ROOT_TOKEN = "glpat-e2e-root-token-0000001"


@pytest.fixture(scope="session")
def local_api():
    """The local API server (make serve) on a free port: 4 worker processes and a moto server,
    shared by the end-to-end and concurrency tests of one pytest process."""
    from devtools.local_api import LocalApi

    with LocalApi(
        port=0, workers=4, seed=True, env_overrides={"ROOT_TOKEN": E2E_ROOT_TOKEN, "KAS_SECRET": KAS_SECRET}
    ) as server:
        yield server
