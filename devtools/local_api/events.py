"""What API Gateway (REST) makes of an HTTP request, and of a Lambda proxy integration's result.

The event itself is devtools.apigw's (shared with the in-process test client): path and
pathParameters still percent-encoded, the query string decoded."""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from devtools import apigw
from devtools import template as cfn

STAGE = "local"
MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit

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
