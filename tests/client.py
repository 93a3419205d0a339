"""An in-process client that calls the handlers with the API Gateway REST events a deployed
API would send (routes and handlers come from template.yaml)."""

from __future__ import annotations

import base64
import importlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from devtools.apigw import LambdaContext, match_route, rest_event

NOT_FOUND_BODY = {"error": "404 Not Found"}


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
class ApiResponse:
    status: int
    headers: Headers
    text: str
    event: dict = field(repr=False, default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.text)


class ApiClient:
    def __init__(self, token: str | None = None) -> None:
        self.token = token

    def as_(self, token: str | None) -> ApiClient:
        return ApiClient(token)

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
    ) -> ApiResponse:
        header_pairs = [("Host", "gitlab.test"), ("X-Forwarded-Proto", "https")]
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
        raw_path = "/api/v4" + raw_path if not raw_path.startswith("/api/") else raw_path
        if params:
            query = "&".join(filter(None, [query, urlencode(params, doseq=True)]))
        return self._dispatch(method, raw_path, query, header_pairs, body)

    def _dispatch(self, method: str, raw_path: str, query: str, headers: list, body: Any) -> ApiResponse:
        matched = match_route(method, raw_path)
        if matched is None:
            return ApiResponse(404, Headers({"Content-Type": "application/json"}), json.dumps(NOT_FOUND_BODY))
        function, resource, path_params = matched
        event = rest_event(method, raw_path, resource, path_params, headers, query, body, stage="api")
        handler = getattr(importlib.import_module(function.module), function.handler)
        result = handler(event, LambdaContext(function.logical_id))
        merged = Headers(result.get("headers") or {})
        for name, values in (result.get("multiValueHeaders") or {}).items():
            merged[name] = ", ".join(values) if name.lower() != "set-cookie" else values[-1]
        text = result.get("body") or ""
        if result.get("isBase64Encoded"):
            text = base64.b64decode(text).decode("utf-8")
        return ApiResponse(result["statusCode"], merged, text, event)

    def get(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> ApiResponse:
        return self.request("DELETE", path, **kwargs)
