"""The in-process client: API requests handed straight to the handlers, in the API Gateway REST
events a deployed API would send (routes and handlers come from template.yaml), as in a warm
Lambda container of every function.

``InProcess.invoke`` is the one dispatch; ``ApiClient`` is the tests' face of it (a token, ``get``
/ ``post`` / ...), ``InProcess.send`` takes a ``Request`` (the bench's scenarios yield them)."""

from __future__ import annotations

import base64
import importlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from devtools import apigw
from devtools import template as cfn

API_PREFIX = "/api/v4"
NOT_FOUND_BODY = {"error": "404 Not Found"}
# What a client reaching the deployed API over HTTPS at gitlab.test sends before its own headers.
BASE_HEADERS = (("Host", "gitlab.test"), ("X-Forwarded-Proto", "https"))


class Headers(dict):
    """Response headers, looked up case-insensitively."""

    def __getitem__(self, name: str) -> str:
        for key, value in self.items():
            if key.lower() == name.lower():
                return value
        raise KeyError(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default


@dataclass
class Response:
    status: int
    headers: Headers
    body: bytes
    event: dict = field(repr=False, default_factory=dict)  # the event the handler was given ({} when none)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


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
        pairs = list(BASE_HEADERS)
        if self.json_body is not None:
            pairs.append(("Content-Type", "application/json"))
        return pairs + list(self.headers.items())


class UnexpectedStatus(Exception):
    def __init__(self, request: Request, response: Response) -> None:
        super().__init__(
            f"{request.method} {request.path} -> {response.status} (expected {request.expect or '2xx'}): "
            f"{response.body[:300]!r}"
        )
        self.response = response


def check(request: Request, response: Response) -> Response:
    """``response``, or UnexpectedStatus when its status is not the one the request expects."""
    expected = 200 <= response.status < 300 if request.expect is None else response.status == request.expect
    if not expected:
        raise UnexpectedStatus(request, response)
    return response


class InProcess:
    """Calls the handlers in this process. ``functions``: the template's, unless given."""

    def __init__(self, functions: list[cfn.Function] | None = None) -> None:
        self.functions = functions

    def invoke(
        self, method: str, raw_path: str, query: str, headers: Iterable[tuple[str, str]], body: str | bytes | None
    ) -> Response:
        matched = apigw.match_route(method, raw_path, self.functions)
        if matched is None:
            return Response(404, Headers({"Content-Type": "application/json"}), json.dumps(NOT_FOUND_BODY).encode())
        function, resource, path_params = matched
        event = apigw.rest_event(method, raw_path, resource, path_params, headers, query, body, stage="api")
        handler = getattr(importlib.import_module(function.module), function.handler)
        result = handler(event, apigw.LambdaContext(function.logical_id))
        merged = Headers(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            merged[name] = ", ".join(values) if name.lower() != "set-cookie" else values[-1]
        text = result.get("body") or ""
        content = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode("utf-8")
        return Response(int(result["statusCode"]), merged, content, event)

    def send(self, request: Request) -> Response:
        raw_path, query = request.target()
        return self.invoke(request.method, raw_path, query, request.header_pairs(), request.body())


class ApiClient:
    """Requests as one caller: ``token`` sent as PRIVATE-TOKEN (or as ``auth`` says), paths below
    /api/v4 unless they start with /api/."""

    def __init__(self, token: str | None = None, transport: InProcess | None = None) -> None:
        self.token = token
        self.transport = transport or InProcess()

    def as_(self, token: str | None) -> ApiClient:
        return ApiClient(token, self.transport)

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: dict | None = None,
        params: dict | list | None = None,
        headers: dict[str, str] | None = None,
        raw_body: str | bytes | None = None,
        auth: str = "private-token",
    ) -> Response:
        header_pairs = list(BASE_HEADERS)
        if self.token is not None:
            if auth == "private-token":
                header_pairs.append(("PRIVATE-TOKEN", self.token))
            elif auth == "bearer":
                header_pairs.append(("Authorization", f"Bearer {self.token}"))
            elif auth == "job-token":
                header_pairs.append(("JOB-TOKEN", self.token))
        body = raw_body
        if json_body is not None:
            body = json.dumps(json_body)
            header_pairs.append(("Content-Type", "application/json"))
        elif data is not None:
            body = urlencode(data, doseq=True)
            header_pairs.append(("Content-Type", "application/x-www-form-urlencoded"))
        header_pairs += list((headers or {}).items())
        raw_path, _, query = path.partition("?")
        raw_path = API_PREFIX + raw_path if not raw_path.startswith("/api/") else raw_path
        if params:
            query = "&".join(filter(None, [query, urlencode(params, doseq=True)]))
        return self._dispatch(method, raw_path, query, header_pairs, body)

    def _dispatch(self, method: str, raw_path: str, query: str, headers: list, body: Any) -> Response:
        return self.transport.invoke(method, raw_path, query, headers, body)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        return self.request("DELETE", path, **kwargs)
