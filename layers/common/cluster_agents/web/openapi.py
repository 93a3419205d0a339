"""What the routes document in the OpenAPI description: their statuses, with GitLab's bodies.

A route names the failures it can answer with, as domain errors (``errors.py``); their statuses and
bodies come from ``web.errors.status_and_body``, the one mapping the answers come from too, so the
description and the service cannot disagree (``tests/test_openapi.py`` sends real requests and
checks every status it sees is documented for its route).

Only plain data is built here, at import: no pydantic schema. A success names its body's model
(``model=``, an ``web.entity.Entity``), and Powertools builds its schema when the document is
generated (``devtools.openapi``); a request body is the handler's ``Annotated[Model, Body()]``."""

from __future__ import annotations

from collections.abc import Iterable
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, TypeAlias

from cluster_agents import errors as e
from cluster_agents.web.errors import UNEXPECTED, status_and_body

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseHeader

    from cluster_agents.web.auth import RouteScopes

#: Failures a route names: errors, or (nested) families of them such as ``USER`` or ``BUSY``.
Failures: TypeAlias = "e.ServiceError | Iterable[Failures]"

ERROR_SCHEMA = {"$ref": "#/components/schemas/GitLabError"}
REQUEST_BODY_EXTENSION = "x-request-body-model"

# ---------------------------------------------------------------- families of failures
#: Parameters are read from a body that is not a JSON object, or too large.
BODY = (
    e.RequestRejected("The request body is not valid JSON"),
    e.RequestRejected("The request body must be a JSON object"),
    e.PayloadTooLarge(),
)
#: DynamoDB, KMS or Secrets Manager throttled or failed for a moment: nothing was written, retry.
BUSY = (e.StoreBusy(throttled=True), e.StoreBusy())
#: Authentication by a personal access token (SPEC 1.1), on every route that takes one: a token
#: without api or read_api, or a read_api token on a write, is refused (routes that register
#: other scopes describe their refusals with ``user``).
USER = (
    *BODY,
    e.Unauthenticated(),
    e.TokenExpired(),
    e.TokenRevoked(),
    e.InsufficientScope("api read_api"),
    e.InsufficientScope("api"),
    *BUSY,
)
#: A CI job's token, or else a user's (who then has no job: 404 Job Not Found).
JOB = (*USER, e.JobNotFound())
#: The agent server's request JWT.
KAS = (e.KasAuthenticationInvalid(), *BUSY)
#: page / per_page that are not integers.
PAGE = (e.InvalidParameters(["page is invalid"]), e.InvalidParameters(["per_page is invalid"]))
PROJECT = (e.ProjectNotFound(),)
FORBIDDEN = (e.Forbidden(),)

# ---------------------------------------------------------------- security schemes (names)
USER_SECURITY: list[dict[str, list[str]]] = [
    {"PrivateToken": []},
    {"BearerToken": []},
    {"PrivateTokenParameter": []},
]
JOB_SECURITY: list[dict[str, list[str]]] = [{"JobToken": []}, {"BearerToken": []}, {"JobTokenParameter": []}]
KAS_SECURITY: list[dict[str, list[str]]] = [{"KasJwt": []}]
AGENT_SECURITY: list[dict[str, list[str]]] = [
    {"KasJwt": [], "AgentTokenHeader": []},
    {"KasJwt": [], "AgentTokenCommonHeader": []},
    {"KasJwt": [], "AgentToken": []},
]

PAGINATION_HEADERS = {
    "X-Total": "Total number of items",
    "X-Total-Pages": "Total number of pages (at least 1)",
    "X-Per-Page": "Items per page",
    "X-Page": "This page",
    "X-Next-Page": "The next page, empty when this is the last",
    "X-Prev-Page": "The previous page, empty when this is the first",
    "Link": 'rel="prev", rel="next" (when they exist), rel="first" and rel="last" URLs',
}


def user(scopes: RouteScopes, method: str) -> tuple[e.ServiceError, ...]:
    """``USER`` for a route that registers ``scopes`` (``web.auth``): its own insufficient_scope answers."""
    return (*(failure for failure in USER if not isinstance(failure, e.InsufficientScope)), *scopes.refusals(method))


def _flatten(failures: Iterable[Failures]) -> list[e.ServiceError]:
    flat: list[e.ServiceError] = []
    for failure in failures:
        if isinstance(failure, e.ServiceError):
            flat.append(failure)
        else:
            flat.extend(_flatten(failure))
    return flat


def _string_header(description: str) -> OpenAPIResponseHeader:
    return {"description": description, "schema": {"type": "string"}}


def responses(
    success: int,
    *failures: Failures,
    paginated: bool = False,
    media_type: str = "application/json",
    success_description: str = "",
    model: Any = None,
    schema: dict[str, Any] | None = None,
) -> dict[int, OpenAPIResponse]:
    """The OpenAPI responses of a route: ``success`` with its body's ``model`` (a type: an
    ``Entity``, ``list[Entity]``) or plain ``schema``, then each failure's status with its exact
    body as an example (several failures may share a status), 413 for a body over the limit (every
    route refuses one before anything else, SPEC §1.4) and 500 for the unexpected."""
    documented: dict[int, OpenAPIResponse] = {}
    if success == HTTPStatus.NO_CONTENT:
        documented[success] = {"description": success_description or "No Content (empty body)", "content": {}}
    else:
        body: Any = {"model": model} if model is not None else {"schema": schema} if schema else {}
        documented[success] = {
            "description": success_description or HTTPStatus(success).phrase,
            "content": {media_type: body},
        }
    if paginated:
        documented[success]["headers"] = {name: _string_header(text) for name, text in PAGINATION_HEADERS.items()}

    examples: dict[int, dict[str, dict[str, Any]]] = {}
    headers: dict[int, set[str]] = {}
    for failure in [*_flatten(failures), e.PayloadTooLarge(), None]:
        status, body, extra = status_and_body(failure) if failure is not None else UNEXPECTED
        name = type(failure).__name__ if failure is not None else "Unexpected"
        by_status = examples.setdefault(status, {})
        if any(example["value"] == body for example in by_status.values()):
            continue
        unique, n = name, 2
        while unique in by_status:
            unique, n = f"{name}{n}", n + 1
        by_status[unique] = {"value": body}
        headers.setdefault(status, set()).update(extra)
    for status in sorted(examples):
        if status in documented:
            raise ValueError(f"status {status} is both the success and a failure")
        response: OpenAPIResponse = {
            "description": HTTPStatus(status).phrase,
            "content": {"application/json": {"schema": ERROR_SCHEMA, "examples": examples[status]}},
        }
        if headers[status]:
            response["headers"] = {
                name: _string_header("Seconds to wait before retrying") for name in sorted(headers[status])
            }
        documented[status] = response
    return documented


def body(model: type) -> dict[str, str]:
    """``openapi_extensions`` naming the parameter model a route reads with ``parse(Model)``: only
    for handlers not yet declaring ``Annotated[Model, Body()]`` (functions/world)."""
    return {REQUEST_BODY_EXTENSION: f"{model.__module__}:{model.__qualname__}"}
