"""Two ways to send one API request: in this process, straight into the handler with the API
Gateway REST event a deployed API would build (for counting AWS calls), or over HTTP to the
local API server (for latency)."""

from __future__ import annotations

import base64
import http.client
import importlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from devtools import apigw
from devtools import template as cfn

API_PREFIX = "/api/v4"
NOT_FOUND = b'{"error":"404 Not Found"}'


@dataclass
class Request:
    method: str
    path: str  # below /api/v4, already percent-encoded: /projects/bench%2Ffleet
    headers: dict[str, str] = field(default_factory=dict)
    json_body: Any = None
    query: dict[str, Any] | None = None
    expect: int | None = 200  # None: any 2xx

    def target(self) -> tuple[str, str]:
        return API_PREFIX + self.path, urlencode(self.query or {}, doseq=True)

    def body(self) -> bytes | None:
        return None if self.json_body is None else json.dumps(self.json_body).encode()

    def header_pairs(self) -> list[tuple[str, str]]:
        pairs = [("Host", "bench.local"), ("User-Agent", "cluster-agents-bench")]
        if self.json_body is not None:
            pairs.append(("Content-Type", "application/json"))
        return pairs + list(self.headers.items())


@dataclass
class Response:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class UnexpectedStatus(Exception):
    def __init__(self, request: Request, response: Response) -> None:
        super().__init__(
            f"{request.method} {request.path} -> {response.status} (expected {request.expect or '2xx'}): "
            f"{response.body[:300]!r}"
        )
        self.response = response


def check(request: Request, response: Response) -> Response:
    expected = 200 <= response.status < 300 if request.expect is None else response.status == request.expect
    if not expected:
        raise UnexpectedStatus(request, response)
    return response


class InProcess:
    """Calls the handler in this process, like a warm Lambda container of every function."""

    def __init__(self, functions: list[cfn.Function] | None = None) -> None:
        self.functions = functions if functions is not None else cfn.functions()
        self._handlers: dict[str, Any] = {}

    def handler_for(self, request: Request) -> tuple[Any, dict, cfn.Function] | None:
        raw_path, query = request.target()
        matched = apigw.match_route(request.method, raw_path, self.functions)
        if matched is None:
            return None
        function, resource, params = matched
        event = apigw.rest_event(
            request.method, raw_path, resource, params, request.header_pairs(), query, request.body(), stage="bench"
        )
        if function.logical_id not in self._handlers:
            module = importlib.import_module(function.module)
            self._handlers[function.logical_id] = getattr(module, function.handler)
        return self._handlers[function.logical_id], event, function

    def send(self, request: Request) -> Response:
        found = self.handler_for(request)
        if found is None:
            return Response(404, {"content-type": "application/json"}, NOT_FOUND)
        handler, event, function = found
        result = handler(event, apigw.LambdaContext(function.logical_id))
        headers = {name.lower(): str(value) for name, value in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers[name.lower()] = ", ".join(str(value) for value in values)
        body = (result.get("body") or "").encode()
        if result.get("isBase64Encoded"):
            body = base64.b64decode(body)
        return Response(int(result["statusCode"]), headers, body)


class Http:
    """One keep-alive HTTP/1.1 connection to the local API."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._connection: http.client.HTTPConnection | None = None

    def send(self, request: Request) -> Response:
        raw_path, query = request.target()
        target = raw_path + (f"?{query}" if query else "")
        headers = dict(request.header_pairs())
        headers.pop("Host", None)
        for attempt in (1, 2):
            connection = self._connection or http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._connection = connection
            try:
                connection.request(request.method, target, body=request.body(), headers=headers)
                answer = connection.getresponse()
                body = answer.read()
            except (ConnectionError, http.client.HTTPException):
                connection.close()
                self._connection = None
                if attempt == 2:
                    raise
                continue
            return Response(answer.status, {name.lower(): value for name, value in answer.getheaders()}, body)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
