"""Shared fixtures: moto with the template's tables and keys, a seeded root, and an in-process
API client that speaks API Gateway REST events to the real handlers."""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ClusterAgentsApiTests")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "cluster-agents-api")

from testkit.client import ApiClient
from testkit.container import reset_caches
from testkit.kas import KAS_SECRET
from testkit.world import World

ROOT_TOKEN = "glpat-root-token-for-tests-000"


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
