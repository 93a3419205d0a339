"""API Gateway REST (v1) proxy events and route matching, as API Gateway does them.

Used by the in-process test client and by the local server, so both hand the handlers the
same events a deployed REST API would: path and pathParameters still percent-encoded."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from devtools.template import Function, functions


def match_route(
    method: str, raw_path: str, candidates: Iterable[Function] | None = None
) -> tuple[Function, str, dict[str, str]] | None:
    """The function, resource template and (encoded) path parameters for a request, or None."""
    segments = raw_path.split("?", 1)[0].strip("/").split("/")
    best = None
    for function in candidates if candidates is not None else functions():
        for route_method, resource in function.routes:
            if route_method != method.upper() and not (method.upper() == "HEAD" and route_method == "GET"):
                continue
            parts = resource.strip("/").split("/")
            if len(parts) != len(segments):
                continue
            params: dict[str, str] = {}
            literal = 0
            for part, segment in zip(parts, segments, strict=True):
                if part.startswith("{") and part.endswith("}"):
                    if not segment:
                        break
                    params[part[1:-1]] = segment
                elif part == segment:
                    literal += 1
                else:
                    break
            else:
                if best is None or literal > best[0]:
                    best = (literal, function, resource, params)
    return None if best is None else (best[1], best[2], best[3])


def rest_event(
    method: str,
    raw_path: str,
    resource: str,
    path_parameters: dict[str, str] | None = None,
    headers: Iterable[tuple[str, str]] = (),
    query_string: str = "",
    body: bytes | str | None = None,
    source_ip: str = "127.0.0.1",
    stage: str = "local",
) -> dict[str, Any]:
    header_pairs = list(headers)
    multi_headers: dict[str, list[str]] = {}
    for name, value in header_pairs:
        multi_headers.setdefault(name, []).append(value)
    query_pairs = parse_qsl(query_string, keep_blank_values=True)
    multi_query: dict[str, list[str]] = {}
    for name, value in query_pairs:
        multi_query.setdefault(name, []).append(value)
    if isinstance(body, str):
        body = body.encode("utf-8")
    is_base64 = False
    body_text = None
    if body:
        try:
            body_text = body.decode("utf-8")
        except UnicodeDecodeError:
            body_text, is_base64 = base64.b64encode(body).decode("ascii"), True
    host = next((v for k, v in header_pairs if k.lower() == "host"), "127.0.0.1")
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": raw_path,
        "httpMethod": method.upper(),
        "headers": {name: values[-1] for name, values in multi_headers.items()} or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method.upper(),
            "path": raw_path,
            "stage": stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "domainName": host,
            "protocol": "HTTP/1.1",
            "identity": {
                "sourceIp": source_ip,
                "userAgent": next((v for k, v in header_pairs if k.lower() == "user-agent"), ""),
            },
            "accountId": "123456789012",
            "apiId": "local",
        },
        "body": body_text,
        "isBase64Encoded": is_base64,
    }


class LambdaContext:
    """The parts of the Lambda context object the handlers (and Powertools) read."""

    def __init__(self, function_name: str = "local", timeout_ms: int = 10_000) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
