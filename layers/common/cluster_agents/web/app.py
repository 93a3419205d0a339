"""One resolver per function, wired the same way: GitLab error bodies, JSON responses, one
decorator stack (structured logs with the request id, EMF metrics)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response

from cluster_agents.errors import ServiceError
from cluster_agents.observability import logger, metrics
from cluster_agents.web import request as request_context
from cluster_agents.web.errors import ROUTE_NOT_FOUND, UNEXPECTED, status_and_body

JSON = "application/json"


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=_dumps(body), headers=headers or {})


def no_content() -> Response:
    return Response(status_code=204, body="")


def _error_response(status: int, body: dict, headers: dict[str, str]) -> Response:
    return respond(body, status, headers)


def create_app() -> APIGatewayRestResolver:
    """A REST resolver with every failure mapped to GitLab's shape."""
    app = APIGatewayRestResolver(enable_validation=True, serializer=_dumps)

    @app.exception_handler(ServiceError)
    def _expected(error: ServiceError) -> Response:
        status, body, headers = status_and_body(error)
        if status >= 500 or status == 429:
            logger().warning("store busy", extra={"status": status, "error": type(error).__name__})
        return _error_response(status, body, headers)

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return _error_response(*ROUTE_NOT_FOUND)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger().exception("unexpected error", extra={"error": type(error).__name__})
        return _error_response(*UNEXPECTED)

    return app


def entrypoint(app: APIGatewayRestResolver) -> Callable[[dict, Any], dict]:
    """The function's ``lambda_handler``: sets the current request, logs with the request id,
    flushes metrics. The decorated handler is built on the first invocation, not at import."""
    built: list[Callable[[dict, Any], dict]] = []

    def build() -> Callable[[dict, Any], dict]:
        from aws_lambda_powertools.logging import correlation_paths

        @metrics().log_metrics
        @logger().inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
        def handle(event: dict, context: Any) -> dict:
            request_context.begin(event)
            return app.resolve(event, context)

        return handle

    def lambda_handler(event: dict, context: Any) -> dict:
        if not built:
            built.append(build())
        return built[0](event, context)

    return lambda_handler
