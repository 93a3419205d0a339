"""The request being served: headers, parameters as Grape merges them, and the client's base URL.

One Lambda container serves one request at a time; the entry point sets the current request."""

from __future__ import annotations

import contextvars
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from cluster_agents.errors import PayloadTooLarge, RequestRejected
from cluster_agents.settings import get_settings

MAX_BODY_BYTES = 5 * 1024 * 1024  # SPEC §1.4: 5 MiB, within Lambda's 6 MB synchronous payload with the event around it
CREDENTIAL_PARAMS = ("private_token", "job_token", "access_token")
NOT_UTF8 = "The request body is not valid UTF-8"
URL_SCHEMES = ("http", "https")
# A host name or IP address (IPv6 in brackets), with an optional port: what a domainName can be.
_HOST = re.compile(r"\A(?:[A-Za-z0-9][A-Za-z0-9.-]{0,252}|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?\Z")
# A stage or base path mapping: path segments of URL-safe characters.
_STAGE_PREFIX = re.compile(r"\A(?:/[A-Za-z0-9._~-]+)*\Z")


class Request:
    def __init__(self, event: dict[str, Any]) -> None:
        self.event = APIGatewayProxyEvent(event)
        self._params: dict[str, Any] | None = None
        self.state: dict[str, Any] = {}  # per-request memo (the authenticated caller, ...)

    @property
    def method(self) -> str:
        return self.event.http_method.upper()

    def header(self, name: str) -> str | None:
        return self.event.headers.get(name)

    @property
    def request_id(self) -> str:
        return self.event.request_context.request_id or ""

    def query(self) -> list[tuple[str, str]]:
        multi = self.event.multi_value_query_string_parameters or {}
        if multi:
            return [(name, value) for name, values in multi.items() for value in values]
        return list((self.event.query_string_parameters or {}).items())

    def params(self) -> dict[str, Any]:
        """Query and body parameters merged, as Grape sees them (the body wins)."""
        if self._params is None:
            merged = _nest(self.query())
            merged.update(self._body_params())
            self._params = merged
        return self._params

    def body_size(self) -> int:
        """The request body's length in bytes, as the client sent it (before any decoding)."""
        body = self.event.get("body") or ""
        if self.event.get("isBase64Encoded"):
            return len(body) * 3 // 4 - body[-2:].count("=")
        return len(body.encode("utf-8", "surrogatepass"))

    def refuse_large_body(self) -> None:
        """413 for a body over MAX_BODY_BYTES: before authentication and parameters (SPEC §1.4)."""
        if self.body_size() > MAX_BODY_BYTES:
            raise PayloadTooLarge()

    def _body_params(self) -> dict[str, Any]:
        self.refuse_large_body()
        try:
            body = self.event.decoded_body  # a base64-encoded body is decoded as UTF-8 here
        except UnicodeDecodeError:
            raise RequestRejected(NOT_UTF8) from None
        if not body or not body.strip():
            return {}
        content_type = (self.header("content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/x-www-form-urlencoded":
            return _nest(parse_qsl(body, keep_blank_values=True))
        try:
            parsed = json.loads(body, parse_constant=_not_json)
        except (ValueError, RecursionError):
            if content_type in ("", "application/json"):
                raise RequestRejected("The request body is not valid JSON") from None
            return {}
        if isinstance(parsed, dict):
            if "\\u" in body and not _encodable(parsed):  # "\ud800": a lone surrogate, no UTF-8 text
                raise RequestRejected(NOT_UTF8)
            return parsed
        if parsed in ({}, None, [], ""):
            return {}
        raise RequestRejected("The request body must be a JSON object")

    def base_url(self) -> str:
        """``scheme://host[/stage]`` as the client reached us, or the configured external URL.

        The host and the stage come from the event's ``requestContext`` (API Gateway writes them:
        the domain the client connected to, the path it used), never from a header the client
        chose (``Host``); ``X-Forwarded-Proto`` only picks ``http`` or ``https``."""
        external = get_settings().external_url
        if external:
            return external.rstrip("/")
        proto = (self.header("x-forwarded-proto") or "").split(",")[0].strip().lower()
        scheme = proto if proto in URL_SCHEMES else "https"
        context = self.event.get("requestContext") or {}
        domain = context.get("domainName") or ""
        host = domain if _HOST.match(domain) else "localhost"
        full_path = context.get("path") or ""
        stage_prefix = full_path[: -len(self.event.path)] if full_path.endswith(self.event.path) else ""
        return f"{scheme}://{host}{stage_prefix if _STAGE_PREFIX.match(stage_prefix) else ''}"

    def api_url(self) -> str:
        return self.base_url() + "/api/v4"


def _not_json(constant: str) -> Any:
    """``NaN``, ``Infinity``, ``-Infinity``: Python's extensions, not JSON (Ruby's parser refuses them)."""
    raise ValueError(f"{constant} is not JSON")


def _encodable(value: Any) -> bool:
    """Whether every string in a parsed JSON value is valid Unicode (storable as UTF-8)."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Rack's nesting: ``a[]=1&a[]=2`` -> a list, ``e[name]=x`` -> a dict."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name.endswith("[]"):
            result.setdefault(name[:-2], [])
            if isinstance(result[name[:-2]], list):
                result[name[:-2]].append(value)
        elif "[" in name and name.endswith("]"):
            outer, inner = name[:-1].split("[", 1)
            result.setdefault(outer, {})
            if isinstance(result[outer], dict):
                result[outer][inner] = value
        else:
            result[name] = value
    return result


_current: contextvars.ContextVar[Request] = contextvars.ContextVar("request")


def begin(event: dict[str, Any]) -> Request:
    request = Request(event)
    _current.set(request)
    return request


def current() -> Request:
    return _current.get()
