"""The storage the benchmarks run against, and this process made to look like a Lambda container.

A moto server (devtools.local_api's serialised one, in a child process) holds the template's tables
and keys; ``Container.use(endpoint)`` gives this process the functions' environment aimed at it,
so handlers can be invoked in-process with their AWS calls counted, while the local API's worker
processes use the same server."""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path
from typing import Any

from devtools import template as cfn
from testkit.container import reset_caches

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ROOT_TOKEN = "glpat-bench-root-token-000001"
KAS_SECRET = base64.b64encode(b"bench-kas-secret-0123456789abcde").decode()
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


def code_paths(template: dict | None = None) -> list[str]:
    """What a Lambda container has on sys.path: the function code dirs, then the layers."""
    functions = cfn.functions(template)
    return list(dict.fromkeys([str(f.code_dir) for f in functions] + [str(d) for d in cfn.layer_dirs(template)]))


def add_code_paths() -> None:
    for entry in reversed([str(ROOT), *code_paths()]):
        if entry not in sys.path:
            sys.path.insert(0, entry)


class MotoServer:
    """devtools.local_api's moto server (one call at a time) in a child process."""

    def __init__(self) -> None:
        from devtools.local_api.storage import MotoStore

        self._store = MotoStore(in_process=False)
        self.endpoint = ""

    def start(self) -> MotoServer:
        self.endpoint = self._store.start()
        return self

    def stop(self) -> None:
        self._store.stop()

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def boto_client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.session.Session(region_name=REGION, **{k.lower(): v for k, v in CREDENTIALS.items()}).client(
        service, endpoint_url=endpoint
    )


class _EndpointSession:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto_client(service, self.endpoint)


def function_environment(endpoint: str) -> dict[str, str]:
    """The template's tables and keys created at ``endpoint`` and the functions' environment."""
    resources = cfn.create_resources(_EndpointSession(endpoint))
    env = resources.function_environment()
    env.update(CREDENTIALS)
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_REGION=REGION, AWS_DEFAULT_REGION=REGION, KAS_SECRET=KAS_SECRET)
    return env


class Container:
    """This process as one warm Lambda container of every function, storage at ``endpoint``."""

    def __init__(self) -> None:
        self.endpoint = ""
        self.env: dict[str, str] = {}

    def use(self, endpoint: str) -> Container:
        for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")]:
            del os.environ[name]
        self.endpoint = endpoint
        self.env = function_environment(endpoint)
        os.environ.update(self.env)
        os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # in-process only: no X-Ray daemon here
        add_code_paths()
        reset_caches()
        from cluster_agents.bootstrap import seed_root

        seed_root(ROOT_TOKEN)
        return self

    def ddb(self) -> Any:
        """A raw client of the same storage (bulk seeding, the floor measurement)."""
        return boto_client("dynamodb", self.endpoint)

    @property
    def directory_table(self) -> str:
        return self.env["DIRECTORY_TABLE"]

    @property
    def agents_table(self) -> str:
        return self.env["AGENTS_TABLE"]
