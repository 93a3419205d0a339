"""A handler's typed parameters, checked as Grape checks them: after the route's guards.

Powertools' own request validation runs before every middleware; GitLab authenticates first (a bad
token and a bad id answer 401, not 400), so ``web.app`` turns Powertools' validation off and adds
``validate_parameters`` as the last middleware of every route, after the route's guards
(``web.guards``). It reads what Powertools' dependant describes (path, query and body parameters
of the handler's signature) from where Grape reads it: path parameters from the route, query and
body parameters from Grape's merged parameters (``Request.params``: query and body, Rack-nested,
JSON or form). Every problem is raised at once as Powertools' ``RequestValidationError``;
``grape_error`` turns it into Grape's messages, in the order the handler declares its parameters."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from cluster_agents.errors import InvalidParameters
from cluster_agents.web.params import grape_messages
from cluster_agents.web.request import current

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver, Route
    from aws_lambda_powertools.event_handler.openapi.compat import ModelField

_ORDER_KEY = "grape_order"


def _check(fields: list[ModelField], source: dict[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
    for field in fields:
        location = field.field_info.in_.value  # type: ignore[attr-defined]
        value = source.get(field.alias)
        if value is None:
            if field.required:
                errors.append(
                    {"type": "missing", "loc": (location, field.alias), "msg": "Field required", "input": None}
                )
            else:
                values[field.name] = field.get_default()
            continue
        checked, problems = field.validate(value=value, loc=(location, field.alias))
        if problems:
            errors.extend(problems if isinstance(problems, list) else [problems])
        else:
            values[field.name] = checked


def _check_body(fields: list[ModelField], merged: dict[str, Any], values: dict[str, Any], errors: list[Any]) -> None:
    """The body model (one per handler): every merged parameter, as Grape declares them."""
    for field in fields:
        checked, problems = field.validate(value=merged, loc=("body",))
        if problems:
            errors.extend(problems if isinstance(problems, list) else [problems])
        else:
            values[field.name] = checked


def validate_parameters(app: ApiGatewayResolver, next_middleware: Callable[..., Response]) -> Response:
    """Every route's last middleware: its handler's typed parameters, or one RequestValidationError."""
    route: Route = app.context["_route"]
    dependant = route.dependant
    if not (dependant.path_params or dependant.query_params or dependant.body_params):
        return next_middleware(app)
    # A route with parameters reads them as Grape does: a body that is no JSON object is a 400
    # here, after the guards, before the parameters' own problems.
    merged = current().params()
    values: dict[str, Any] = {}
    errors: list[Any] = []
    _check(dependant.path_params, app.context.get("_route_args") or {}, values, errors)
    _check(dependant.query_params, merged, values, errors)
    if len(dependant.body_params) > 1:
        raise AssertionError(f"{route.func.__name__}: one body model per handler")
    _check_body(dependant.body_params, merged, values, errors)
    if errors:
        raise RequestValidationError(errors)
    app.context["_route_args"] = values
    return next_middleware(app)


def declared_order(route: Route) -> list[str]:
    """The handler's parameters in signature order, a body model's fields in its place."""
    cached = getattr(route, _ORDER_KEY, None)
    if cached is not None:
        return cached
    body = {field.name: field for field in route.dependant.body_params}
    order: list[str] = []
    for name in inspect.signature(route.func).parameters:
        if name in body:
            model = body[name].type_
            order.extend(field.alias or key for key, field in getattr(model, "model_fields", {}).items())
        else:
            order.append(next((f.alias for f in _fields(route) if f.name == name), name))
    setattr(route, _ORDER_KEY, order)
    return order


def _fields(route: Route) -> list[ModelField]:
    return [*route.dependant.path_params, *route.dependant.query_params]


def grape_error(error: RequestValidationError, route: Route | None) -> InvalidParameters:
    """``agent_id is invalid, name is missing``: one message per parameter, in declaration order."""
    return InvalidParameters(grape_messages(error.errors(), declared_order(route) if route else []))
