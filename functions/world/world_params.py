"""The world's request parameters (SPEC §5, §6.2, §7.4): one model per body, as Grape declares them
(handlers declare ``params: Annotated[Model, Body()]``; ``web.validation`` checks them)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from cluster_agents.domain.access import VALID_ACCESS_LEVELS
from cluster_agents.domain.personal_access_tokens import SELF_SERVICE_SCOPES
from cluster_agents.web.params import Params, comma_separated
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

Visibility = Literal["private", "internal", "public"]
TOKEN_SCOPES = (
    "api",
    "read_api",
    "read_user",
    "read_repository",
    "write_repository",
    "read_registry",
    "write_registry",
    "sudo",
    "admin_mode",
    "create_runner",
    "manage_runner",
    "ai_features",
    "k8s_proxy",
)


def _access_level(value: Any) -> Any:
    if value not in VALID_ACCESS_LEVELS:
        raise PydanticCustomError("grape_values", "not one of the allowed values", {"grape": "values"})
    return value


#: Grape's ``type: Integer, values: Gitlab::Access.all_values``: ``access_level does not have a valid value``.
AccessLevel = Annotated[int, AfterValidator(_access_level)]


class NewUser(Params):
    email: str
    name: str
    username: str
    admin: bool = False


class NewPersonalAccessToken(Params):
    name: str
    scopes: comma_separated(TOKEN_SCOPES)  # type: ignore[valid-type]
    expires_at: date | None = None
    description: str | None = None


class NewOwnPersonalAccessToken(Params):
    name: str | None  # required; null or blank: 422 Name can't be blank
    scopes: comma_separated(SELF_SERVICE_SCOPES)  # type: ignore[valid-type]
    description: str | None = None
    expires_at: date | None = None  # null or absent: tomorrow


class NewGroup(Params):
    name: str
    path: str
    parent_id: int | None = None
    visibility: Visibility = "private"
    description: str = ""


class NewProject(Params):
    name: str | None = None
    path: str | None = None
    namespace_id: int | None = None
    description: str = ""
    visibility: Visibility = "private"


class NewMember(Params):
    user_id: int
    access_level: AccessLevel
    expires_at: date | None = None


class MemberChange(Params):
    access_level: AccessLevel
    expires_at: date | None = None


class NewJobEnvironment(Params):
    name: str = Field(min_length=1, max_length=255)
    tier: Literal["production", "staging", "testing", "development", "other"] | None = None


class NewJob(Params):
    project_id: int
    user_id: int
    pipeline_id: int | None = None
    environment: NewJobEnvironment | str | None = None
    ref: str = "main"
    ref_protected: bool = False


class JobUpdate(Params):
    state: Literal["success", "failed"]
