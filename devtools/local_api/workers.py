"""Worker processes, each like one Lambda container: the functions' code and the layers on
sys.path, the functions' environment, handlers imported on first use, one event at a time.
Concurrent requests go to different workers, so they really race, as on Lambda."""

from __future__ import annotations

import importlib
import itertools
import json
import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from typing import Any

from devtools import apigw
from devtools.local_api.config import ConfigError, FunctionSpec

log = logging.getLogger("devtools.local_api")

MAX_LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024  # Lambda's synchronous response limit
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway REST gives up on an integration after 29 s
TIMEOUT_GRACE_S = 0.1
WORKER_START_TIMEOUT_S = 60.0
SEED_TIMEOUT_S = 120.0

SPAWN = multiprocessing.get_context("spawn")


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
        self._conn, child_end = SPAWN.Pipe()
        self.process = SPAWN.Process(
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
