"""Request parameters into typed values, with Grape's error messages.

A handler declares what it reads in its signature, with the types below (``id: ProjectRef``,
``agent_id: AgentId``, ``page: PageNumber``, ``params: Annotated[NewAgent, Body()]``);
``web.validation`` checks them after the route's guards, and every problem becomes one 400 with
Grape's messages (``grape_messages``), as GitLab answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar
from urllib.parse import unquote

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from cluster_agents.errors import InvalidParameters
from cluster_agents.web.request import current

M = TypeVar("M", bound=BaseModel)


class Params(BaseModel):
    """Base of every parameter model: unknown parameters are ignored (GitLab ignores them too),
    numbers sent where a string is declared become strings, as Grape coerces them."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, defer_build=True)

    def __repr_args__(self) -> Any:
        """Names, never values: parameters carry secrets (``access_key``, ``client_key``, a job's
        ``token``) and Powertools logs a handler's arguments at debug level."""
        return ((name, ...) for name in type(self).model_fields)


def grape_messages(problems: Iterable[Any], order: list[str]) -> list[str]:
    """``name is missing``, ``agent_id is invalid`` ... one per parameter, in declaration order.

    ``problems`` are pydantic's error dicts (``ValidationError.errors()``, or a
    ``RequestValidationError``'s); a parameter is named by the last part of its location."""
    by_name: dict[str, str] = {}
    for problem in problems:
        name = str(problem["loc"][-1] if problem["loc"] else "")
        if name in by_name:
            continue
        grape = (problem.get("ctx") or {}).get("grape")
        if problem["type"] == "missing":
            by_name[name] = f"{name} is missing"
        elif grape == "empty":
            by_name[name] = f"{name} is empty"
        elif problem["type"] in ("literal_error", "enum") or grape == "values":
            by_name[name] = f"{name} does not have a valid value"
        else:
            by_name[name] = f"{name} is invalid"
    return [by_name[name] for name in sorted(by_name, key=lambda n: order.index(n) if n in order else len(order))]


def parse(model: type[M], extra: dict[str, Any] | None = None) -> M:
    """The current request's parameters as ``model``; raises InvalidParameters with Grape's messages."""
    data = dict(current().params())
    if extra:
        data.update(extra)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise InvalidParameters(grape_messages(error.errors(), list(model.model_fields))) from None


def integer(name: str, raw: str) -> int:
    """A path id: decimal digits only, else ``<name> is invalid``."""
    text = raw.strip()
    if not text.isascii() or not text.lstrip("-").isdigit() or len(text) > 30:
        raise InvalidParameters([f"{name} is invalid"])
    return int(text)


def _path_id(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return integer("id", value)
        except InvalidParameters:
            raise ValueError("not an integer") from None
    return value


def _decoded(value: Any) -> Any:
    return unquote(value) if isinstance(value, str) else value


def _page_value(default: int) -> Any:
    def coerce(value: Any) -> Any:
        from cluster_agents.web.pagination import page_integer

        return page_integer(value, default)

    return BeforeValidator(coerce)


# The handlers' parameter types, and Powertools' ``Body``/``Path``/``Query`` markers. Handlers name
# them through this module (``id: typed.ProjectRef``, ``Annotated[Model, typed.Body()]``, with
# ``from cluster_agents.web import params as typed``): their annotations are strings until the first
# request builds the route's parameters, and only then is Powertools' OpenAPI module (pydantic's
# field machinery, a tenth of a cold start) imported, by ``__getattr__`` below.
TYPED_PARAMETERS = (
    "Body",
    "Path",
    "Query",
    "ProjectRef",
    "ProjectAccessRef",
    "AgentId",
    "TokenId",
    "UrlConfigurationId",
    "UserId",
    "JobId",
    "PageNumber",
    "PerPage",
)

if TYPE_CHECKING:
    from typing import TypeAlias

    ProjectRef: TypeAlias = str
    ProjectAccessRef: TypeAlias = Any
    AgentId: TypeAlias = int
    TokenId: TypeAlias = int
    UrlConfigurationId: TypeAlias = int
    UserId: TypeAlias = int
    JobId: TypeAlias = int
    PageNumber: TypeAlias = int
    PerPage: TypeAlias = int


def _typed_parameters() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

    def path_id(description: str) -> Any:
        """An integer path parameter: decimal digits only, else ``<name> is invalid`` (joined with
        the route's other parameters' messages)."""
        return Annotated[int, Path(description=description), BeforeValidator(_path_id)]

    return {
        "Body": Body,
        "Path": Path,
        "Query": Query,
        # The project (or group) of a path: a numeric id or the full path, percent-decoded once here
        # (API Gateway REST leaves ``root%2Ftest`` encoded); the services resolve it.
        "ProjectRef": Annotated[
            str,
            Path(description="Project or group: a numeric id, or the URL-encoded full path (`root%2Ftest`)"),
            BeforeValidator(_decoded),
        ],
        # Any value: an id or path finds a project, anything else (a list, an object) none (404).
        "ProjectAccessRef": Annotated[
            Any,
            Query(description="The project: its id or full path (any case)", json_schema_extra={"type": "string"}),
        ],
        "AgentId": path_id("Agent id (integer)"),
        "TokenId": path_id("Token id (integer)"),
        "UrlConfigurationId": path_id("URL configuration id (integer)"),
        "UserId": path_id("User id (integer)"),
        "JobId": path_id("CI job id (integer)"),
        # ``page`` and ``per_page`` (SPEC §1.5), read as Grape reads them (query or body); give them to
        # ``web.pagination.page_of``. Not integers: ``page is invalid``, with the route's other problems.
        "PageNumber": Annotated[int, Query(description="Page number (values below 1 act as 1)"), _page_value(1)],
        "PerPage": Annotated[int, Query(description="Items per page (default 20; above 100: 100)"), _page_value(20)],
    }


def __getattr__(name: str) -> Any:
    if name not in TYPED_PARAMETERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals().update(_typed_parameters())
    return globals()[name]


def empty_value() -> PydanticCustomError:
    """``<name> is empty``: Grape's ``allow_blank: false``."""
    return PydanticCustomError("grape_empty", "blank", {"grape": "empty"})


def _ruby_split(text: str) -> list[str]:
    """``text.split(',').map(&:strip)`` as Ruby does it (trailing empty fields dropped)."""
    parts = text.split(",")
    while parts and parts[-1] == "":
        parts.pop()
    return [part.strip() for part in parts]


def _not_a_value() -> PydanticCustomError:
    return PydanticCustomError("grape_values", "not one of the allowed values", {"grape": "values"})


def comma_separated(values: tuple[str, ...]) -> Any:
    """Grape's ``type: Array[String], coerce_with: CommaSeparatedToArray.coerce, values: values``:
    a list or a comma-separated string, every item one of ``values`` (else ``<name> does not
    have a valid value``, also for ``null``); anything else (a number, an object) ``<name> is invalid``."""

    def coerce(value: Any) -> Any:
        if value is None:
            raise _not_a_value()
        if isinstance(value, str):
            items = _ruby_split(value)
        elif isinstance(value, list):
            if any(item is not None and not isinstance(item, str) for item in value):
                raise _not_a_value()
            # Repeats mean nothing (a token's scopes are a set): each distinct item is split once.
            items = [piece for item in dict.fromkeys(value) for piece in _ruby_split(item or "")]
        else:
            return value  # not a list: the list type refuses it
        if any(item not in values for item in items):
            raise _not_a_value()
        return items

    return Annotated[list[str], BeforeValidator(coerce)]
