"""What a route checks before its parameters: route middlewares (``middlewares=[guards.USER]``).

Grape authenticates before it validates parameters, so the credentials (and, for some routes, an
instance setting) are checked in a guard, which runs before ``web.validation`` checks the
handler's typed parameters: a bad token and a bad id answer 401, a good token and a bad id 400.
The handler reads what a guard found through the same memo (``current_user()``), at no cost."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    from cluster_agents.web.auth import RouteScopes

Guard = Callable[["ApiGatewayResolver", Callable[..., "Response"]], "Response"]


def guard(check: Callable[[], object], name: str) -> Guard:
    """A route middleware that runs ``check`` (which raises a ServiceError to refuse) first."""

    def middleware(app: ApiGatewayResolver, next_middleware: Callable[..., Response]) -> Response:
        check()
        return next_middleware(app)

    middleware.__name__ = name
    return middleware


def user(scopes: RouteScopes | None = None) -> Guard:
    """A personal access token with ``scopes`` (SPEC 1.1; default: api, read_api on reads); the
    handler's ``current_user()`` is it."""

    def authenticate() -> None:
        from cluster_agents.web.auth import GITLAB_API, current_user  # the user routes' functions only

        current_user(scopes or GITLAB_API)

    return guard(authenticate, "user")


#: A personal access token with api (read_api on reads).
USER = user()


def _kas_request() -> None:
    from cluster_agents.web.agent_server_auth import authenticate_kas_request  # the JWT library: KAS routes only

    authenticate_kas_request()


#: The agent server's request JWT (SPEC 7).
KAS = guard(_kas_request, "kas")
