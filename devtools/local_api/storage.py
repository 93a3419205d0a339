"""Storage for the local API: an embedded moto server on a free loopback port that lets one AWS
call through at a time (moto is not thread-safe), or the endpoint in AWS_ENDPOINT_URL."""

from __future__ import annotations

import contextlib
import io
import json
import signal
import socket
import threading
import time
import urllib.parse
from typing import Any

from devtools.local_api.config import ConfigError
from devtools.local_api.workers import SPAWN, WORKER_START_TIMEOUT_S

POLL_INTERVAL_S = 0.1  # how soon the HTTP servers notice shutdown()


IDEMPOTENT_TARGET = "DynamoDB_20120810.TransactWriteItems"
IDEMPOTENCY_WINDOW_S = 600  # DynamoDB: a ClientRequestToken is remembered for 10 minutes


class _SerialisedApp:
    """A WSGI app that lets one request through at a time: moto's backends are not thread-safe
    (concurrent TransactWriteItems fail with "dictionary changed size during iteration").

    It also does what moto does not: a TransactWriteItems sent again with the same
    ``ClientRequestToken`` (botocore fills one in and keeps it across its retries) within 10
    minutes gets the first answer again and writes nothing, as DynamoDB's idempotency promises. So
    a transaction that outlasted the client's read timeout on a loaded machine, and was retried,
    is not answered "already exists" for what it wrote itself."""

    def __init__(self, app: Any):
        self._app = app
        self._lock = threading.Lock()
        self._answered: dict[tuple[str, bytes], tuple[float, str, list, bytes]] = {}

    def __call__(self, environ: dict, start_response: Any) -> list[bytes]:
        with self._lock:
            token = self._token(environ)
            if token is not None:
                self._forget_old()
                if token in self._answered:
                    _, status, headers, body = self._answered[token]
                    start_response(status, headers)
                    return [body]
            answer: list = []

            def recording_start_response(status: str, headers: list, *rest: Any) -> Any:
                answer[:] = [status, list(headers)]
                return start_response(status, headers, *rest)

            result = self._app(environ, recording_start_response)
            try:
                body = b"".join(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
            if token is not None and answer and answer[0].startswith("200"):
                self._answered[token] = (time.monotonic(), answer[0], answer[1], body)
            return [body]

    @staticmethod
    def _token(environ: dict) -> tuple[str, bytes] | None:
        """(ClientRequestToken, body) of a TransactWriteItems (its body put back for moto)."""
        if environ.get("HTTP_X_AMZ_TARGET") != IDEMPOTENT_TARGET:
            return None
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        try:
            token = json.loads(body or b"{}").get("ClientRequestToken")
        except ValueError:
            return None
        return (token, body) if isinstance(token, str) and token else None

    def _forget_old(self) -> None:
        horizon = time.monotonic() - IDEMPOTENCY_WINDOW_S
        for token in [token for token, (at, *_) in self._answered.items() if at < horizon]:
            del self._answered[token]


def make_moto_server(host: str = "127.0.0.1", port: int = 0) -> Any:
    """A threaded moto server (one AWS call at a time) on host:port, not yet serving."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    class QuietRequestHandler(MotoRequestHandler):
        def log_request(self, code: Any = "-", size: Any = "-") -> None:
            pass

    app = _SerialisedApp(DomainDispatcherApplication(create_backend_app))
    return make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)


def _moto_process_main(conn: Any) -> None:
    """A store process: serve moto until the parent closes the pipe (or goes away)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = make_moto_server()
    threading.Thread(target=server.serve_forever, args=(POLL_INTERVAL_S,), name="moto", daemon=True).start()
    conn.send(server.server_port)
    with contextlib.suppress(EOFError, OSError):
        conn.recv()  # returns (or fails) when the parent closes its end
    server.shutdown()


class MotoStore:
    """An in-memory moto server on a free loopback port: in a thread of this process (the command
    line), or in a child process so that moto's global state in a test process (mock_aws resets
    every backend) cannot touch it."""

    def __init__(self, in_process: bool):
        self.in_process = in_process
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._process: Any = None
        self._conn: Any = None

    def start(self) -> str:
        if self.in_process:
            self._server = make_moto_server()
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(POLL_INTERVAL_S,), name="moto", daemon=True
            )
            self._thread.start()
            port = self._server.server_port
        else:
            self._conn, child_end = SPAWN.Pipe()
            process = SPAWN.Process(target=_moto_process_main, args=(child_end,), name="moto", daemon=True)
            process.start()
            self._process = process
            child_end.close()
            try:
                if not self._conn.poll(WORKER_START_TIMEOUT_S):
                    raise EOFError
                port = self._conn.recv()
            except (EOFError, OSError) as error:
                raise ConfigError("the embedded moto server did not start") from error
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._process is not None:
            self._conn.close()
            self._process.join(3)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(1)
            self._process = None


def check_reachable(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or not parts.hostname or port is None:
        raise ConfigError(f"AWS_ENDPOINT_URL is not an http(s) URL: {url}")
    try:
        socket.create_connection((parts.hostname, port), timeout=3).close()
    except OSError as error:
        raise ConfigError(f"cannot reach AWS_ENDPOINT_URL {url}: {error.strerror or error}") from error


class EndpointSession:
    """What create_resources needs of a boto3 session, with every client aimed at one endpoint."""

    def __init__(self, session: Any, endpoint_url: str):
        self._session = session
        self._endpoint_url = endpoint_url

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self._session.client(service_name, endpoint_url=self._endpoint_url, **kwargs)
