"""The gateway: API Gateway's part of a request (route it, build the event, invoke a worker, shape
the response; its own answers where no function answers: 404, 413, 502, 504) behind a threaded
HTTP/1.1 front.

The HTTP itself is h11's (https://h11.readthedocs.io): request line and headers, Content-Length
and chunked bodies, keep-alive and pipelining, 100-continue, what is a malformed request. This
module only moves bytes between a socket and h11; it hands the request target to the gateway as
it came (``/api/v4/projects/a%2Fb``: API Gateway REST gives the handler the path still encoded),
and the headers with their own spelling and repeats (for headers and multiValueHeaders)."""

from __future__ import annotations

import contextlib
import email.utils
import errno
import http
import json
import logging
import socket
import socketserver
import sys
import threading
import time
import uuid
from typing import Any

import h11

from devtools import apigw
from devtools import template as cfn
from devtools.local_api.config import ConfigError
from devtools.local_api.events import (
    BAD_REQUEST_BODY,
    INTERNAL_ERROR_BODY,
    MAX_REQUEST_BYTES,
    NOT_FOUND_BODY,
    TIMED_OUT_BODY,
    TOO_LARGE_BODY,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    build_event,
    gateway_response,
    lambda_response,
    split_target,
)
from devtools.local_api.workers import INTEGRATION_TIMEOUT_S, Outcome, WorkerPool

log = logging.getLogger("devtools.local_api")

SERVER_NAME = "cluster-agents-local"
IDLE_TIMEOUT_S = 120  # idle keep-alive connections are closed after this
MAX_HEAD_BYTES = 64 * 1024  # request line and headers
_RECEIVE_BYTES = 64 * 1024


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


class _RequestTooLarge(Exception):
    pass


class _ClientGone(Exception):
    pass


class _Connection(socketserver.BaseRequestHandler):
    """One client connection: requests one after another (keep-alive) until either side closes."""

    server: FrontServer
    request: socket.socket

    def setup(self) -> None:
        self.request.settimeout(IDLE_TIMEOUT_S)
        # Nagle's algorithm would hold small responses back for the client's delayed ACK.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)

    def handle(self) -> None:
        while True:
            try:
                event = self._next_event()
            except h11.RemoteProtocolError as error:
                self._refuse(error)
                return
            if not isinstance(event, h11.Request):
                return  # the client closed the connection (or went quiet)
            try:
                self._serve(event)
            except _ClientGone:
                return
            if self.http.our_state is not h11.DONE or self.http.their_state is not h11.DONE:
                return  # h11 says the connection ends here (Connection: close, a body left unread, ...)
            self.http.start_next_cycle()

    def _serve(self, request: h11.Request) -> None:
        started = time.monotonic()
        method = request.method.decode("ascii")
        target = request.target.decode("latin-1")
        response = self._send(self._response(request, method, target), head_only=method == "HEAD")
        if self.server.access_log:
            log.info(
                "%s %s -> %d %s %.0f ms",
                method,
                split_target(target)[0],
                response.status,
                response.function or "(gateway)",
                (time.monotonic() - started) * 1000,
            )

    def _response(self, request: h11.Request, method: str, target: str) -> HttpResponse:
        request_id = str(uuid.uuid4())
        try:
            body = self._read_body(request)
        except _RequestTooLarge:
            response = gateway_response(413, TOO_LARGE_BODY, request_id)
            response.close = True  # the rest of the body is not read
            return response
        except h11.RemoteProtocolError:
            response = gateway_response(400, BAD_REQUEST_BODY, request_id)
            response.close = True
            return response
        http_request = HttpRequest(
            method=method,
            target=target,
            headers=[(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers.raw_items()],
            body=body,
            client_ip=self.client_address[0],
            server_port=self.server.server_address[1],
        )
        gateway = self.server.gateway
        assert gateway is not None, "the gateway is attached before the server accepts requests"
        try:
            return gateway.handle(http_request, request_id)
        except Exception:
            log.exception("the local gateway failed on %s %s", method, split_target(target)[0])
            return gateway_response(500, INTERNAL_ERROR_BODY, request_id)

    def _read_body(self, request: h11.Request) -> bytes:
        lengths = [value for name, value in request.headers if name == b"content-length"]
        if lengths and int(lengths[0]) > MAX_REQUEST_BYTES:  # h11 has checked it is a number
            raise _RequestTooLarge  # answered from the headers, before the body comes
        if self.http.they_are_waiting_for_100_continue:
            try:
                self.request.sendall(
                    self.http.send(h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue"))
                )
            except OSError as error:
                raise _ClientGone from error
        chunks: list[bytes] = []
        total = 0
        while True:
            event = self._next_event()
            if isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            if not isinstance(event, h11.Data):
                raise _ClientGone
            total += len(event.data)
            if total > MAX_REQUEST_BYTES:
                raise _RequestTooLarge
            chunks.append(bytes(event.data))

    def _next_event(self) -> Any:
        """h11's next event, reading from the socket as it needs; None when the socket fails or times out."""
        while True:
            event = self.http.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = self.request.recv(_RECEIVE_BYTES)
            except OSError:  # a timeout, a reset, or stop() shutting the socket down
                return None
            self.http.receive_data(data)  # b"" is the client closing its end

    def _send(self, response: HttpResponse, head_only: bool = False) -> HttpResponse:
        """Write the response; returns what was sent (a 502 for headers HTTP cannot carry)."""
        try:
            head = _h11_response(response)
        except (h11.LocalProtocolError, UnicodeEncodeError) as error:  # API Gateway refuses these too
            log.error("%s: malformed Lambda proxy response headers: %s", response.function, error)
            request_id = dict(response.headers).get("x-amzn-RequestId", "")
            response = gateway_response(502, INTERNAL_ERROR_BODY, request_id, "InternalServerErrorException")
            head = _h11_response(response)
        data = self.http.send(head)
        if response.body and not head_only:  # a HEAD answer has the GET's Content-Length, no body
            data += self.http.send(h11.Data(data=response.body))
        data += self.http.send(h11.EndOfMessage())
        try:
            self.request.sendall(data)
        except OSError as error:
            raise _ClientGone from error
        return response

    def _refuse(self, error: h11.RemoteProtocolError) -> None:
        """Answer a request h11 cannot read (400, or its hint: 431 headers too large, 505, ...)."""
        status = error.error_status_hint
        body = BAD_REQUEST_BODY if status == 400 else json.dumps({"message": http.HTTPStatus(status).phrase}).encode()
        response = gateway_response(status, body, str(uuid.uuid4()))
        response.close = True
        with contextlib.suppress(h11.LocalProtocolError, _ClientGone):
            self._send(response)


def _h11_response(response: HttpResponse) -> h11.Response:
    headers = [*response.headers, ("Content-Length", str(len(response.body)))]
    headers += [("Date", email.utils.formatdate(usegmt=True)), ("Server", SERVER_NAME)]
    if response.close:
        headers.append(("Connection", "close"))
    try:
        reason = http.HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    return h11.Response(
        status_code=response.status,
        headers=[(name.encode("latin-1"), value.encode("utf-8")) for name, value in headers],
        reason=reason.encode("ascii"),
    )


class FrontServer(socketserver.ThreadingTCPServer):
    """A thread per connection; remembers open connections so stop() can end keep-alives."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # bursts of new connections (benchmarks) wait instead of being refused

    def __init__(self, address: tuple[str, int], access_log: bool):
        super().__init__(address, _Connection)
        self.gateway: Gateway | None = None
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


class _FrontServer6(FrontServer):
    address_family = socket.AF_INET6


def bind(host: str, port: int) -> FrontServer:
    """The front server listening on host:port (0: a free port), not yet serving."""
    server_class = _FrontServer6 if ":" in host else FrontServer
    try:
        return server_class((host, port), access_log=False)
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(f"port {port} on {host} is already in use (try --port)") from error
        raise ConfigError(f"cannot listen on {host}:{port}: {error.strerror or error}") from error
