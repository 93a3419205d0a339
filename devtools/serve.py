"""The local API server behind `make serve`: API Gateway (REST) + Lambda + DynamoDB/KMS, no Docker.

    .venv/bin/python -m devtools.serve --port 3000 --workers 4

Everything comes from template.yaml through devtools.template: the routes, each function's
handler, memory and timeout, the functions' environment, the tables and keys. Three parts:

* storage: an embedded moto server on a free loopback port that lets one AWS call through at a
  time (moto is not thread-safe), or the endpoint in AWS_ENDPOINT_URL when that is set;
* workers: N spawned processes, each like one Lambda container (the functions' code and the
  layers on sys.path, the functions' environment, handlers imported on first use) that handle
  one event at a time; concurrent requests go to different workers, so they really race;
* the gateway: a threaded HTTP/1.1 server that turns each request into an API Gateway REST proxy
  event (routing and events are devtools.apigw's, shared with the in-process test client), hands
  it to an idle worker and turns the handler's result into the HTTP response, with API Gateway's
  own answers where no function answers (404, 413, 502, 504).

Tests start the same stack in the background: ``with LocalApi(workers=2) as api: api.base_url``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import contextlib
import errno
import http.client
import importlib
import io
import itertools
import json
import logging
import multiprocessing
import os
import queue
import secrets
import signal
import socket
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools import apigw
from devtools import template as cfn

log = logging.getLogger("devtools.serve")

API_PREFIX = "/api/v4"
STAGE = "local"
DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
MAX_LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response limit
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway REST gives up on an integration after 29 s
LAMBDA_DEFAULT_TIMEOUT_S = 3.0
LAMBDA_DEFAULT_MEMORY_MB = 128
TIMEOUT_GRACE_S = 0.1
WORKER_START_TIMEOUT_S = 60.0
SEED_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.1  # how soon the HTTP servers notice shutdown()
BOOTSTRAP_MODULE = "cluster_agents.bootstrap"

# The gateway's own answers: the template's GatewayResponses where it configures them (a missing
# route, a body over the limit; tests/test_template.py keeps them equal), else API Gateway's.
NOT_FOUND_BODY = b'{"error":"404 Not Found"}'
INTERNAL_ERROR_BODY = b'{"message": "Internal server error"}'
TOO_LARGE_BODY = b'{"message":"413 Request Entity Too Large"}'
TIMED_OUT_BODY = b'{"message": "Endpoint request timed out"}'
BAD_REQUEST_BODY = b'{"message": "Bad Request"}'

# Headers API Gateway sets itself on the way in, and the ones it never passes back out.
_FORWARDED_HEADERS = {"x-forwarded-for", "x-forwarded-port", "x-forwarded-proto"}
_HOP_BY_HOP_HEADERS = {"connection", "content-length", "keep-alive", "transfer-encoding", "upgrade"}

_SPAWN = multiprocessing.get_context("spawn")


class ConfigError(Exception):
    """Bad configuration: reported as one line on stderr (exit code 2 on the command line)."""


# --------------------------------------------------------------------------- events and results


@dataclass
class HttpRequest:
    method: str
    target: str  # the request line's target, e.g. /api/v4/projects/a%2Fb?x=1
    headers: list[tuple[str, str]]
    body: bytes
    client_ip: str
    server_port: int


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    function: str | None = None  # who answered, for the access log
    close: bool = False


class MalformedResponse(Exception):
    """A handler result API Gateway would reject ("Malformed Lambda proxy response")."""


def split_target(target: str) -> tuple[str, str]:
    """The raw (still percent-encoded) path and query string of a request target."""
    if not target.startswith("/"):  # absolute form, http://host/path?query
        parts = urllib.parse.urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path, _, query = target.partition("?")
    return path, query


def _gateway_headers(request: HttpRequest) -> list[tuple[str, str]]:
    """The request's headers plus the ones API Gateway adds (X-Forwarded-*, a trace id)."""
    forwarded_for = [value for name, value in request.headers if name.lower() == "x-forwarded-for"]
    headers = [(name, value) for name, value in request.headers if name.lower() not in _FORWARDED_HEADERS]
    if not any(name.lower() == "x-amzn-trace-id" for name, _ in headers):
        headers.append(("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"))
    headers += [
        ("X-Forwarded-For", ", ".join([*forwarded_for, request.client_ip])),
        ("X-Forwarded-Port", str(request.server_port)),
        ("X-Forwarded-Proto", "http"),
    ]
    return headers


def build_event(request: HttpRequest, function: cfn.Function, resource: str, params: dict) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event for a request (devtools.apigw builds it, as for the
    in-process test client): path and pathParameters still percent-encoded, query decoded."""
    raw_path, raw_query = split_target(request.target)
    method = request.method
    if method == "HEAD" and ("HEAD", resource) not in function.routes:
        method = "GET"  # served by the GET route; the body is dropped on the way out
    return apigw.rest_event(
        method,
        raw_path,
        resource,
        params,
        headers=_gateway_headers(request),
        query_string=raw_query,
        body=request.body,
        source_ip=request.client_ip,
        stage=STAGE,
    )


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool | int | float):
        text = json.dumps(value)
    else:
        raise MalformedResponse(f"header {name!r} has a {type(value).__name__} value")
    if "\r" in text or "\n" in text:
        raise MalformedResponse(f"header {name!r} contains a line break")
    return text


def _response_headers(result: dict) -> list[tuple[str, str]]:
    """headers and multiValueHeaders merged as API Gateway does (multiValueHeaders win)."""
    single = result.get("headers") or {}
    multi = result.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedResponse("headers and multiValueHeaders must be objects")
    multi_names = {name.lower() for name in multi}
    merged = [
        (name, _header_value(name, value))
        for name, value in single.items()
        if name.lower() not in multi_names and value is not None
    ]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] is not a list")
        merged += [(name, _header_value(name, value)) for value in values if value is not None]
    return [(name, value) for name, value in merged if name.lower() not in _HOP_BY_HOP_HEADERS]


def _response_status(result: dict) -> int:
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    return status


def _response_body(result: dict) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse(f"body is a {type(body).__name__}, not a string")
    if not result.get("isBase64Encoded"):
        return body.encode("utf-8")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedResponse("isBase64Encoded is set but body is not base64") from error


def lambda_response(result: Any, request_id: str) -> HttpResponse:
    """The HTTP response API Gateway makes of a proxy integration's result."""
    if not isinstance(result, dict):
        raise MalformedResponse(f"the result is a {type(result).__name__}, not an object")
    status = _response_status(result)
    headers = _response_headers(result)
    body = _response_body(result)
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("Content-Type", "application/json"))  # API Gateway REST's default
    headers.append(("x-amzn-RequestId", request_id))
    return HttpResponse(status, headers, body)


def gateway_response(status: int, body: bytes, request_id: str, error_type: str | None = None) -> HttpResponse:
    headers = [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id)]
    if error_type:
        headers.append(("x-amzn-ErrorType", error_type))
    return HttpResponse(status, headers, body)


# --------------------------------------------------------------------------- workers (Lambda containers)


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to know about one function (sent to the worker process)."""

    name: str
    module: str
    handler: str
    memory_mb: int
    timeout_s: float


class _Container:
    """Inside a worker process: the loaded handlers, and the two things a worker is asked to do."""

    def __init__(self, functions: list[FunctionSpec]):
        self._functions = functions
        self._handlers: dict[int, Any] = {}

    def handle(self, message: tuple) -> tuple:
        kind, *args = message
        if kind == "invoke":
            return self.invoke(*args)
        if kind == "call":
            return self.call(*args)
        return ("error", f"unknown message {kind!r}")

    def invoke(self, index: int, event_json: str, request_id: str) -> tuple:
        spec = self._functions[index]
        context = apigw.LambdaContext(spec.name, int(spec.timeout_s * 1000))
        context.memory_limit_in_mb = spec.memory_mb
        context.aws_request_id = request_id
        try:
            handler = self._handler(index)
            payload = json.dumps(handler(json.loads(event_json), context))
        except Exception as error:  # the runtime reports it and keeps the container
            _report_error(f"{spec.name} {request_id}", error)
            return ("error", f"{type(error).__name__}: {error}")
        if len(payload.encode("utf-8")) > MAX_LAMBDA_RESPONSE_BYTES:
            return ("error", "the response is larger than Lambda's 6 MB limit")
        return ("ok", payload)

    def call(self, module_name: str, function_name: str, args: tuple) -> tuple:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name and (module_name == error.name or module_name.startswith(f"{error.name}.")):
                return ("missing", module_name)
            _report_error(module_name, error)
            return ("error", f"{type(error).__name__}: {error}")
        try:
            return ("ok", getattr(module, function_name)(*args))
        except Exception as error:
            _report_error(f"{module_name}.{function_name}", error)
            return ("error", f"{type(error).__name__}: {error}")

    def _handler(self, index: int) -> Any:
        if index not in self._handlers:
            spec = self._functions[index]
            self._handlers[index] = getattr(importlib.import_module(spec.module), spec.handler)
        return self._handlers[index]


def _report_error(where: str, error: BaseException) -> None:
    print(f"[ERROR] {where}: {type(error).__name__}: {error}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    sys.stderr.flush()


def _prepare_container(search_path: list[str], environment: dict[str, str]) -> None:
    """Make this process look like a Lambda container of the template's functions."""
    for name in [name for name in os.environ if name.startswith("AWS_ENDPOINT_URL_")]:
        del os.environ[name]  # service-specific endpoints would beat AWS_ENDPOINT_URL
    os.environ.update(environment)
    sys.path[:] = search_path + [entry for entry in sys.path if entry not in search_path]
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True)  # logs show up as they happen


def _worker_main(conn: Any, search_path: list[str], environment: dict[str, str], functions: list) -> None:
    """A worker process: one message at a time until the server closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C hits the process group; the server stops us
    _prepare_container(search_path, environment)
    container = _Container(functions)
    conn.send(("ready", os.getpid()))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        reply = container.handle(message)
        try:
            conn.send(reply)
        except OSError:
            return


class WorkerLost(Exception):
    """The worker process died (or its pipe was closed under it)."""


class WorkerTimeout(Exception):
    """The worker did not answer in time."""


class Worker:
    """The server's end of one worker process."""

    def __init__(self, number: int, search_path: list[str], environment: dict[str, str], functions: list):
        self._conn, child_end = _SPAWN.Pipe()
        self.process = _SPAWN.Process(
            target=_worker_main,
            args=(child_end, search_path, environment, functions),
            name=f"lambda-worker-{number}",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        self.pid: int | None = None

    def wait_ready(self, timeout: float) -> None:
        kind, pid = self._exchange(None, timeout)
        if kind != "ready":
            raise WorkerLost(f"unexpected first message {kind!r}")
        self.pid = pid

    def request(self, message: tuple, timeout: float) -> tuple:
        return self._exchange(message, timeout)

    def _exchange(self, message: tuple | None, timeout: float) -> tuple:
        try:
            if message is not None:
                self._conn.send(message)
            if not self._conn.poll(timeout):
                raise WorkerTimeout
            return self._conn.recv()
        except (EOFError, OSError) as error:
            raise WorkerLost(str(error) or type(error).__name__) from error

    def close(self) -> None:
        """Closing the pipe ends the worker's loop once it is done with the current event."""
        self._conn.close()

    def join(self, timeout: float) -> None:
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(1)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1)

    def kill(self) -> None:
        self.close()
        self.process.kill()
        self.process.join(5)


@dataclass
class Outcome:
    kind: str  # ok | error | missing | gateway_timeout
    value: Any = None


class WorkerPool:
    """Idle workers wait in a queue: each request takes one, so concurrent requests run in
    different processes; a worker that dies or runs over its time is replaced by a fresh one."""

    def __init__(self, size: int, search_path: list[str], environment: dict[str, str], functions: list[FunctionSpec]):
        self.size = size
        self.functions = functions
        self._worker_args = (search_path, environment, functions)
        self._numbers = itertools.count(1)
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all: set[Worker] = set()
        self._lock = threading.Lock()
        self._closed = False

    def start(self) -> None:
        workers = [self._spawn() for _ in range(self.size)]
        for worker in workers:
            try:
                worker.wait_ready(WORKER_START_TIMEOUT_S)
            except (WorkerLost, WorkerTimeout) as error:
                raise ConfigError(f"a worker process did not start ({error or 'timed out'})") from error
            self._idle.put(worker)

    def pids(self) -> list[int]:
        with self._lock:
            return sorted(worker.pid for worker in self._all if worker.pid is not None)

    def invoke(self, index: int, event: dict, request_id: str) -> Outcome:
        spec = self.functions[index]
        wait = min(spec.timeout_s, INTEGRATION_TIMEOUT_S) + TIMEOUT_GRACE_S
        worker = self._idle.get()
        try:
            kind, value = worker.request(("invoke", index, json.dumps(event), request_id), wait)
        except WorkerTimeout:
            self._replace(worker)
            if spec.timeout_s > INTEGRATION_TIMEOUT_S:
                return Outcome("gateway_timeout")
            return Outcome("error", f"Task timed out after {spec.timeout_s:.2f} seconds")
        except WorkerLost:
            self._replace(worker)
            return Outcome("error", f"the worker process died (exit code {worker.process.exitcode})")
        self._idle.put(worker)
        return Outcome(kind, value)

    def call(self, module: str, function: str, args: tuple, timeout: float = SEED_TIMEOUT_S) -> Outcome:
        """Run ``module.function(*args)`` in a worker, i.e. with exactly the functions' environment."""
        worker = self._idle.get()
        try:
            kind, value = worker.request(("call", module, function, args), timeout)
        except (WorkerTimeout, WorkerLost) as error:
            self._replace(worker)
            return Outcome("error", f"{module}.{function} did not return ({error or 'timed out'})")
        self._idle.put(worker)
        return Outcome(kind, value)

    def stop(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.close()
        for worker in workers:
            worker.join(timeout=3)

    def _spawn(self) -> Worker:
        worker = Worker(next(self._numbers), *self._worker_args)
        with self._lock:
            self._all.add(worker)
        return worker

    def _replace(self, worker: Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()
        if not self._closed:
            threading.Thread(target=self._add_fresh_worker, name="respawn-worker", daemon=True).start()

    def _add_fresh_worker(self) -> None:
        worker = self._spawn()
        try:
            worker.wait_ready(WORKER_START_TIMEOUT_S)
        except (WorkerLost, WorkerTimeout):
            log.error("a replacement worker process did not start")
            with self._lock:
                self._all.discard(worker)
            worker.kill()
            return
        if self._closed:  # stop() ran while it was starting
            worker.kill()
            return
        self._idle.put(worker)


# --------------------------------------------------------------------------- storage


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
            self._conn, child_end = _SPAWN.Pipe()
            process = _SPAWN.Process(target=_moto_process_main, args=(child_end,), name="moto", daemon=True)
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


def _check_reachable(url: str) -> None:
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


class _EndpointSession:
    """What create_resources needs of a boto3 session, with every client aimed at one endpoint."""

    def __init__(self, session: Any, endpoint_url: str):
        self._session = session
        self._endpoint_url = endpoint_url

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self._session.client(service_name, endpoint_url=self._endpoint_url, **kwargs)


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Settings:
    """What the server reads from its environment (secrets kept out of repr)."""

    endpoint_url: str | None
    region: str
    credentials: dict[str, str] = field(repr=False)
    kas_secret: str = field(repr=False)
    kas_secret_generated: bool
    root_token: str | None = field(repr=False)
    external_url: str | None

    @classmethod
    def from_environ(cls, environ: dict[str, str], external_url: str | None = None) -> Settings:
        kas_secret, generated = _kas_secret(environ.get("KAS_SECRET", ""))
        return cls(
            endpoint_url=environ.get("AWS_ENDPOINT_URL") or None,
            region=environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION") or DEFAULT_REGION,
            credentials=_credentials(environ),
            kas_secret=kas_secret,
            kas_secret_generated=generated,
            root_token=environ.get("ROOT_TOKEN") or None,
            external_url=external_url or environ.get("EXTERNAL_URL") or None,
        )


def _kas_secret(value: str) -> tuple[str, bool]:
    """KAS_SECRET as given (checked to be base64), or a fresh random one."""
    value = value.strip()
    if not value:
        return base64.b64encode(secrets.token_bytes(32)).decode("ascii"), True
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ConfigError("KAS_SECRET must be the base64 of the agent server's shared secret")
    return value, False


def _credentials(environ: dict[str, str]) -> dict[str, str]:
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        return {name: environ[name] for name in names if environ.get(name)}
    return dict(DUMMY_CREDENTIALS)


def _function_spec(template: dict, function: cfn.Function) -> FunctionSpec:
    """Memory and timeout of a function: its own, else the template's Globals, else Lambda's."""
    defaults = template.get("Globals", {}).get("Function", {})
    props = template["Resources"][function.logical_id]["Properties"]

    def number(key: str, fallback: float) -> float:
        value = props.get(key, defaults.get(key, fallback))
        if isinstance(value, dict) and value.get("Ref") in template.get("Parameters", {}):
            value = template["Parameters"][value["Ref"]].get("Default", fallback)  # as a deployed stack
        return value if isinstance(value, int | float) and not isinstance(value, bool) else fallback

    return FunctionSpec(
        name=function.logical_id,
        module=function.module,
        handler=function.handler,
        memory_mb=int(number("MemorySize", LAMBDA_DEFAULT_MEMORY_MB)),
        timeout_s=float(number("Timeout", LAMBDA_DEFAULT_TIMEOUT_S)),
    )


def _search_path(template: dict, functions: list[cfn.Function]) -> list[str]:
    """Like a Lambda container: the function code first, then the layers."""
    entries = [str(function.code_dir) for function in functions] + [str(d) for d in cfn.layer_dirs(template)]
    return list(dict.fromkeys(entries))


def _check_routes(functions: list[cfn.Function]) -> None:
    """API Gateway refuses a method twice on one resource; so do we, rather than pick one."""
    owners: dict[tuple[str, str], str] = {}
    for function in functions:
        for route in function.routes:
            other = owners.setdefault(route, function.logical_id)
            if other != function.logical_id:
                raise ConfigError(f"{' '.join(route)} is routed to both {other} and {function.logical_id}")


def _check_module_names(functions: list[cfn.Function]) -> None:
    """Every worker hosts every function, so two code dirs must not both define the handler module."""
    dirs: dict[str, set] = collections.defaultdict(set)
    for function in functions:
        dirs[function.module].add(function.code_dir)
    for module, code_dirs in dirs.items():
        if len(code_dirs) > 1:
            where = ", ".join(sorted(str(path) for path in code_dirs))
            raise ConfigError(f"handler module {module!r} is defined in more than one code dir ({where})")


def _worker_environment(
    settings: Settings, endpoint: str, function_env: dict[str, str], overrides: dict[str, str]
) -> dict[str, str]:
    env = {**function_env, **overrides}
    env.update(settings.credentials)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=settings.region,
        AWS_DEFAULT_REGION=settings.region,
        KAS_SECRET=settings.kas_secret,
        POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
    )
    if settings.external_url:
        env["EXTERNAL_URL"] = settings.external_url
    return env


# --------------------------------------------------------------------------- the HTTP front


class _RequestTooLarge(Exception):
    pass


class _BadRequest(Exception):
    pass


class _RequestHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; every method goes through the gateway."""

    protocol_version = "HTTP/1.1"
    server_version = "cluster-agents-local"
    # Headers and body go out in two sends; with Nagle's algorithm the body would wait for the
    # client's delayed ACK (about 40 ms on Linux), which API Gateway never adds.
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections
    server: _FrontServer

    def _dispatch(self) -> None:
        started = time.monotonic()
        response = self._response()
        self._send(response)
        if self.server.access_log:
            log.info(
                "%s %s -> %d %s %.0f ms",
                self.command,
                split_target(self.path)[0],
                response.status,
                response.function or "(gateway)",
                (time.monotonic() - started) * 1000,
            )

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _dispatch

    def _response(self) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body()
        except _RequestTooLarge:
            response = gateway_response(413, TOO_LARGE_BODY, request_id)
            response.close = True  # the body was not read
            return response
        except _BadRequest:
            response = gateway_response(400, BAD_REQUEST_BODY, request_id)
            response.close = True
            return response
        request = HttpRequest(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            client_ip=self.client_address[0],
            server_port=self.server.server_address[1],
        )
        try:
            return self.server.gateway.handle(request, request_id)
        except Exception:
            log.exception("the local gateway failed on %s %s", self.command, split_target(self.path)[0])
            return gateway_response(500, INTERNAL_ERROR_BODY, request_id)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not length.strip().isdigit():
            raise _BadRequest
        if int(length) > MAX_REQUEST_BYTES:
            raise _RequestTooLarge
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            try:
                size = int(self.rfile.readline(1024).split(b";")[0].strip(), 16)
            except ValueError as error:
                raise _BadRequest from error
            if size == 0:
                while self.rfile.readline(65537).strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BYTES:
                raise _RequestTooLarge
            chunks.append(self.rfile.read(size))
            self.rfile.readline(3)

    def _send(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if response.close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def version_string(self) -> str:
        return self.server_version

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass  # _dispatch writes the access log

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class _FrontServer(ThreadingHTTPServer):
    """The threaded HTTP server; remembers open connections so stop() can end keep-alives."""

    daemon_threads = True
    request_queue_size = 128  # bursts of new connections (benchmarks) wait instead of being refused

    def __init__(self, address: tuple[str, int], gateway: Gateway | None, access_log: bool):
        super().__init__(address, _RequestHandler)
        self.gateway = gateway
        self.access_log = access_log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # the client went away
        log.exception("error while serving a request from %s", client_address[0])

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _FrontServer6(_FrontServer):
    address_family = socket.AF_INET6


def _bind(host: str, port: int, access_log: bool) -> _FrontServer:
    server_class = _FrontServer6 if ":" in host else _FrontServer
    try:
        return server_class((host, port), None, access_log)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (try --port)") from error
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error


class Gateway:
    """API Gateway's part of a request: route it, build the event, invoke, shape the response."""

    def __init__(self, functions: list[cfn.Function], pool: WorkerPool):
        self.functions = functions
        self.pool = pool
        self._index = {function: index for index, function in enumerate(functions)}

    def handle(self, request: HttpRequest, request_id: str) -> HttpResponse:
        matched = apigw.match_route(request.method, split_target(request.target)[0], self.functions)
        if matched is None:
            return gateway_response(404, NOT_FOUND_BODY, request_id, "MissingAuthenticationTokenException")
        function, resource, params = matched
        event = build_event(request, function, resource, params)
        request_id = event["requestContext"]["requestId"]
        outcome = self.pool.invoke(self._index[function], event, str(uuid.uuid4()))
        response = self._response(outcome, function.logical_id, request_id)
        response.function = function.logical_id
        return response

    @staticmethod
    def _response(outcome: Outcome, function: str, request_id: str) -> HttpResponse:
        if outcome.kind == "gateway_timeout":
            log.error("%s: no answer within API Gateway's %.0f s", function, INTEGRATION_TIMEOUT_S)
            return gateway_response(504, TIMED_OUT_BODY, request_id)
        if outcome.kind == "ok":
            try:
                return lambda_response(json.loads(outcome.value), request_id)
            except MalformedResponse as error:
                log.error("%s: malformed Lambda proxy response: %s", function, error)
        else:
            log.error("%s failed: %s", function, outcome.value)
        return gateway_response(502, INTERNAL_ERROR_BODY, request_id, "InternalServerErrorException")


# --------------------------------------------------------------------------- the whole stack


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
        self._server: _FrontServer | None = None
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
        _check_module_names(functions)
        _check_routes(functions)
        self.functions = [_function_spec(template, function) for function in functions]
        self.routes = sum(len(function.routes) for function in functions)
        try:
            self._server = _bind(self.host, self.port, access_log=False)
            self.port = self._server.server_address[1]
            endpoint = self._start_store()
            resources = self._create_resources(endpoint)
            environment = _worker_environment(
                self.settings, endpoint, resources.function_environment(template, overrides=environ), self.env_overrides
            )
            self._pool = WorkerPool(self.workers, _search_path(template, functions), environment, self.functions)
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
        url = self.settings.endpoint_url
        if url:
            _check_reachable(url)
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

        credentials = self.settings.credentials
        return boto3.client(
            service,
            endpoint_url=self.store_endpoint,
            region_name=self.settings.region,
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        )

    def _create_resources(self, endpoint: str) -> cfn.LocalResources:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        credentials = self.settings.credentials
        session = boto3.Session(
            aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=credentials.get("AWS_SESSION_TOKEN"),
            region_name=self.settings.region,
        )
        try:
            return cfn.create_resources(_EndpointSession(session, endpoint))
        except (BotoCoreError, ClientError) as error:
            raise ConfigError(f"cannot create the template's tables and keys at {endpoint}: {error}") from error

    def _seed_root(self) -> None:
        """Seed the root administrator in a worker: the functions' exact environment, and nothing
        of it (cached settings and clients) left behind in this process."""
        if self.seed is False:
            return
        given = self.settings.root_token
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


# --------------------------------------------------------------------------- command line


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}\n")


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, not {value!r}")
    return int(value)


def _workers(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _OneLineParser(prog="devtools.serve", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=3000, help="port to listen on (default 3000, 0: any)")
    parser.add_argument("--workers", type=_workers, default=4, help="worker processes (default 4)")
    parser.add_argument("--external-url", default=None, help="EXTERNAL_URL for the functions")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser.parse_args(argv)


def banner(api: LocalApi) -> str:
    lines = [
        f"Cluster Agents API (local): {api.base_url}",
        f"  storage: {api.storage}",
        f"  workers: {_count(api.workers, 'process', 'processes')} serving "
        f"{_count(len(api.functions), 'function')} on {_count(api.routes, 'route')}",
    ]
    if api.root_token_generated:
        lines.append(f"  root token (generated, shown once; set ROOT_TOKEN to choose it): {api.root_token}")
    elif api.root_token:
        lines.append("  root token: the one in ROOT_TOKEN")
    elif api.seeded:
        lines.append("  root administrator: already there (its token was shown when it was created)")
    if api.settings.kas_secret_generated:
        lines.append(f"  KAS_SECRET (generated, shown once): {api.settings.kas_secret}")
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    api = LocalApi(
        args.port,
        host=args.host,
        workers=args.workers,
        external_url=args.external_url,
        seed=True,
        store_in_process=True,
        access_log=not args.quiet,
    )
    signal.signal(signal.SIGTERM, _terminate)
    try:
        api.start()
        print(banner(api), flush=True)
        api.wait()
    except ConfigError as error:
        print(f"devtools.serve: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
