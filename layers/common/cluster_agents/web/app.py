"""One resolver per function, wired the same way: GitLab error bodies, JSON responses, one
decorator stack (structured logs with the request id, EMF metrics), and every route's typed
parameters checked after its guards (``web.validation``), their problems answered with Grape's
messages by one ``RequestValidationError`` handler."""

from __future__ import annotations

import contextlib
import inspect
import json
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from cluster_agents.errors import ServiceError
from cluster_agents.observability import UNEXPECTED_ERROR_METRIC, count, count_failure, logger, metrics
from cluster_agents.web import request as request_context
from cluster_agents.web.errors import ROUTE_NOT_FOUND, UNEXPECTED, status_and_body
from cluster_agents.web.validation import grape_error, validate_parameters

JSON = "application/json"


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=JSON, body=_dumps(body), headers=headers or {})


def no_content() -> Response:
    return Response(status_code=204, body="")


def _error_response(status: int, body: dict, headers: dict[str, str]) -> Response:
    return respond(body, status, headers)


def _refuse_large_bodies(app: APIGatewayRestResolver, next_middleware: Callable[..., Response]) -> Response:
    """Every route: a body over the limit is 413 before anything reads the credentials."""
    request_context.current().refuse_large_body()
    return next_middleware(app)


class GitLabResolver(APIGatewayRestResolver):
    """Powertools' REST resolver whose routes check their handler's typed parameters after their
    own middlewares (the guards), where Powertools' validation would check them before any."""

    def route(self, *args: Any, **kwargs: Any) -> Any:
        # app.get(...) passes every argument by position: bind them to find the middlewares.
        bound = inspect.signature(APIGatewayRestResolver.route).bind(self, *args, **kwargs)
        bound.arguments["middlewares"] = [*(bound.arguments.get("middlewares") or ()), validate_parameters]
        return super().route(*bound.args[1:], **bound.kwargs)


def create_app() -> APIGatewayRestResolver:
    """A REST resolver with every failure mapped to GitLab's shape."""
    app = GitLabResolver(serializer=_dumps)
    app.use([_refuse_large_bodies])

    @app.exception_handler(ServiceError)
    def _expected(error: ServiceError) -> Response:
        status, body, headers = status_and_body(error)
        _note_error(error)
        count_failure(error)
        if status >= 500 or status == 429:
            logger().warning("store busy", extra={"status": status, "error": type(error).__name__})
        return _error_response(status, body, headers)

    @app.exception_handler(RequestValidationError)
    def _invalid(error: RequestValidationError) -> Response:
        return _expected(grape_error(error, app.context.get("_route")))

    @app.not_found
    def _no_route(_: Exception) -> Response:
        return _error_response(*ROUTE_NOT_FOUND)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger().exception("unexpected error", extra={"error": type(error).__name__})
        _note_error(error)
        count(UNEXPECTED_ERROR_METRIC)
        return _error_response(*UNEXPECTED)

    return app


def _note_error(error: Exception) -> None:
    """Remember the failure's type for the request's log line."""
    with contextlib.suppress(LookupError):  # no request begun: not through entrypoint
        request_context.current().state["error"] = type(error).__name__


def _log_request(event: dict, result: dict, started: float) -> None:
    """One line per request: the route template (never the raw path or query, which may carry a
    credential such as ``private_token``), the status, the duration, the failure's type."""
    request = request_context.current()
    extra = {
        "method": event.get("httpMethod"),
        "route": event.get("resource"),
        "status": result.get("statusCode"),
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if "error" in request.state:
        extra["error"] = request.state["error"]
    logger().info("request", extra=extra)


def entrypoint(app: APIGatewayRestResolver) -> Callable[[dict, Any], dict]:
    """The function's ``lambda_handler``: sets the current request, logs with the request id (and
    the caller once authenticated, cleared per invocation), one log line per request, flushes
    metrics. The decorated handler is built on the first invocation, not at import."""
    built: list[Callable[[dict, Any], dict]] = []

    def build() -> Callable[[dict, Any], dict]:
        from aws_lambda_powertools.logging import correlation_paths

        @metrics().log_metrics
        @logger().inject_lambda_context(
            correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False, clear_state=True
        )
        def handle(event: dict, context: Any) -> dict:
            started = time.perf_counter()
            request_context.begin(event)
            result = app.resolve(event, context)
            _log_request(event, result, started)
            return result

        return handle

    def lambda_handler(event: dict, context: Any) -> dict:
        if not built:
            built.append(build())
        return built[0](event, context)

    return lambda_handler
