"""The whole local API: storage, workers and the gateway, started and stopped together, for the
command line and for tests (``with LocalApi(workers=2) as api: api.base_url``)."""

from __future__ import annotations

import http.client
import logging
import os
import threading
import time
import urllib.parse
from typing import Any

from devtools import template as cfn
from devtools.local_api.config import (
    ConfigError,
    FunctionSpec,
    Settings,
    check_module_names,
    check_routes,
    function_spec,
    search_path,
    worker_environment,
)
from devtools.local_api.gateway import FrontServer, Gateway, bind
from devtools.local_api.storage import POLL_INTERVAL_S, EndpointSession, MotoStore, check_reachable
from devtools.local_api.workers import WorkerPool

log = logging.getLogger("devtools.local_api")

API_PREFIX = "/api/v4"
BOOTSTRAP_MODULE = "cluster_agents.bootstrap"


class LocalApi:
    """The local API (storage, workers, gateway), for the command line and for tests.

        with LocalApi(workers=2) as api:
            requests.get(f"{api.base_url}/version")

    ``port=0`` picks a free port. ``env_overrides`` is laid over os.environ for reading the
    configuration (KAS_SECRET, ROOT_TOKEN, AWS_ENDPOINT_URL, ...) and over the functions'
    environment. ``template`` replaces template.yaml's functions (the tables and keys always come
    from template.yaml). ``seed``: True seeds the root administrator (an error if the bootstrap
    module is missing), None seeds it if the module exists, False does not. The store runs in a
    child process unless ``store_in_process``. Workers are spawned processes, so a script using
    this needs the usual ``if __name__ == "__main__":`` guard."""

    def __init__(
        self,
        port: int = 0,
        *,
        host: str = "127.0.0.1",
        workers: int = 4,
        env_overrides: dict[str, str] | None = None,
        external_url: str | None = None,
        template: dict | None = None,
        seed: bool | None = None,
        store_in_process: bool = False,
        access_log: bool = False,
    ):
        self.host = host
        self.port = port
        self.workers = workers
        self.env_overrides = dict(env_overrides or {})
        self.external_url = external_url
        self.seed = seed
        self.store_in_process = store_in_process
        self.access_log = access_log
        self._template = template
        self.settings: Settings | None = None
        self.storage = ""
        self.store_endpoint = ""
        self.functions: list[FunctionSpec] = []
        self.routes = 0
        self.root_token: str | None = None
        self.root_token_generated = False
        self.seeded = False
        self._server: FrontServer | None = None
        self._store: MotoStore | None = None
        self._pool: WorkerPool | None = None
        self._serving: threading.Thread | None = None
        self._stopped = threading.Event()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}{API_PREFIX}"

    @property
    def kas_secret(self) -> str | None:
        return self.settings.kas_secret if self.settings else None

    @property
    def _config(self) -> Settings:
        if self.settings is None:
            raise RuntimeError("the local API has not been started")
        return self.settings

    def worker_pids(self) -> list[int]:
        return self._pool.pids() if self._pool else []

    def start(self) -> LocalApi:
        """Start everything; returns once the server answers. Raises ConfigError on bad configuration."""
        if self.workers < 1:
            raise ConfigError("--workers must be at least 1")
        environ = {**os.environ, **self.env_overrides}
        self.settings = Settings.from_environ(environ, self.external_url)
        template = self._template or cfn.load_template()
        functions = cfn.functions(template)
        check_module_names(functions)
        check_routes(functions)
        self.functions = [function_spec(template, function) for function in functions]
        self.routes = sum(len(function.routes) for function in functions)
        try:
            self._server = bind(self.host, self.port)
            self.port = self._server.server_address[1]
            endpoint = self._start_store()
            resources = self._create_resources(endpoint)
            environment = worker_environment(
                self.settings, endpoint, resources.function_environment(template, overrides=environ), self.env_overrides
            )
            self._pool = WorkerPool(self.workers, search_path(template, functions), environment, self.functions)
            self._pool.start()
            self._seed_root()
            self._server.gateway = Gateway(functions, self._pool)
            self._serving = threading.Thread(
                target=self._server.serve_forever, args=(POLL_INTERVAL_S,), name="local-api", daemon=True
            )
            self._serving.start()
            self._wait_until_answering()
            self._server.access_log = self.access_log
        except BaseException:
            self.stop()
            raise
        return self

    def wait(self) -> None:
        """Block until stop() (wakes up regularly so that signals get through)."""
        while not self._stopped.wait(0.5):
            pass

    def stop(self) -> None:
        """Stop serving, then the workers, then the store. Safe to call more than once."""
        self._stopped.set()
        if self._server is not None:
            if self._serving is not None:
                self._server.shutdown()
                self._serving.join(5)
            self._server.server_close()
            self._server.close_connections()
            self._server = None
        if self._pool is not None:
            self._pool.stop()
            self._pool = None
        if self._store is not None:
            self._store.stop()
            self._store = None

    def __enter__(self) -> LocalApi:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def _start_store(self) -> str:
        url = self._config.endpoint_url
        if url:
            check_reachable(url)
            self.storage = f"{url} (AWS_ENDPOINT_URL)"
            self.store_endpoint = url
            return url
        self._store = MotoStore(in_process=self.store_in_process)
        endpoint = self._store.start()
        self.storage = f"embedded moto at {endpoint} (in memory: gone when the server stops)"
        self.store_endpoint = endpoint
        return endpoint

    def store_client(self, service: str = "dynamodb") -> Any:
        """A boto3 client on the server's own storage (tests read the tables behind the API)."""
        import boto3

        credentials = self._config.credentials
        return boto3.client(
            service,
            endpoint_url=self.store_endpoint,
            region_name=self._config.region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        )

    def _create_resources(self, endpoint: str) -> cfn.LocalResources:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        credentials = self._config.credentials
        session = boto3.Session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
            region_name=self._config.region,
        )
        try:
            return cfn.create_resources(EndpointSession(session, endpoint))
        except (BotoCoreError, ClientError) as error:
            raise ConfigError(f"cannot create the template's tables and keys at {endpoint}: {error}") from error

    def _seed_root(self) -> None:
        """Seed the root administrator in a worker: the functions' exact environment, and nothing
        of it (cached settings and clients) left behind in this process."""
        if self.seed is False:
            return
        given = self._config.root_token
        assert self._pool is not None, "the workers start before the seeding"
        outcome = self._pool.call(BOOTSTRAP_MODULE, "seed_root", (given,))
        if outcome.kind == "missing":
            if self.seed is None:
                log.warning("%s is missing: the root administrator was not seeded", BOOTSTRAP_MODULE)
                return
            raise ConfigError(f"{BOOTSTRAP_MODULE} is missing: cannot seed the root administrator")
        if outcome.kind != "ok":
            raise ConfigError(f"seeding the root administrator failed: {outcome.value}")
        self.seeded = True
        self.root_token = given or outcome.value
        self.root_token_generated = given is None and outcome.value is not None

    def _wait_until_answering(self, timeout: float = 10.0) -> None:
        host, port = _split_host(self.url)
        deadline = time.monotonic() + timeout
        while True:
            connection = http.client.HTTPConnection(host, port, timeout=2)
            try:
                connection.request("GET", "/")
                connection.getresponse().read()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                connection.close()


def _split_host(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def start_local_api(
    port: int = 0, workers: int = 2, env_overrides: dict[str, str] | None = None, **options: Any
) -> LocalApi:
    """Start the local API in the background (threads and child processes of this one); call
    .stop() or use it as a context manager."""
    return LocalApi(port, workers=workers, env_overrides=env_overrides, **options).start()
