"""Request parameters into pydantic models, with Grape's error messages."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError
from pydantic_core import PydanticCustomError

from cluster_agents.errors import InvalidParameters
from cluster_agents.web.request import current

M = TypeVar("M", bound=BaseModel)


class Params(BaseModel):
    """Base of every parameter model: unknown parameters are ignored (GitLab ignores them too),
    numbers sent where a string is declared become strings, as Grape coerces them."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, defer_build=True)


def grape_messages(error: ValidationError, order: list[str]) -> list[str]:
    """``name is missing``, ``agent_id is invalid`` ... one per parameter, in declaration order."""
    by_name: dict[str, str] = {}
    for problem in error.errors():
        name = str(problem["loc"][-1] if problem["loc"] else "")
        if name in by_name:
            continue
        if problem["type"] == "missing":
            by_name[name] = f"{name} is missing"
        elif problem["type"] in ("literal_error", "enum") or problem.get("ctx", {}).get("grape") == "values":
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
        raise InvalidParameters(grape_messages(error, list(model.model_fields))) from None


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


# A path id declared in a Params model (pass it with ``parse(Model, extra={...})``), so that its
# ``<name> is invalid`` joins the body parameters' messages in declaration order, as Grape does.
PathId = Annotated[int, BeforeValidator(_path_id)]


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
