"""The world's request parameters (SPEC §5, §6.2, §7.4): one model per body, as Grape declares them."""

from __future__ import annotations

from datetime import date
from typing import Literal

from cluster_agents.domain.personal_access_tokens import SELF_SERVICE_SCOPES
from cluster_agents.web.params import Params, comma_separated
from pydantic import Field

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
    access_level: int
    expires_at: date | None = None


class MemberChange(Params):
    access_level: int
    expires_at: date | None = None


class JobEnvironment(Params):
    name: str = Field(min_length=1, max_length=255)
    tier: Literal["production", "staging", "testing", "development", "other"] | None = None


class NewJob(Params):
    project_id: int
    user_id: int
    pipeline_id: int | None = None
    environment: JobEnvironment | str | None = None
    ref: str = "main"
    ref_protected: bool = False


class JobUpdate(Params):
    state: Literal["success", "failed"]


# ---------------------------------------------------------------- what the routes document
