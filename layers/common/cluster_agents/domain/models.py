"""The GitLab world the agents live in: users and their tokens, groups, projects, members, CI jobs.

These are storage-neutral records; repositories build them, entities render them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class User:
    id: int
    username: str
    name: str
    email: str
    is_admin: bool
    created_at: str
    state: str = "active"


@dataclass(frozen=True)
class PersonalAccessToken:
    id: int
    user_id: int
    name: str
    scopes: tuple[str, ...]
    created_at: str
    expires_at: str | None = None  # a date, YYYY-MM-DD; expired from that day's 00:00 UTC on
    revoked: bool = False
    description: str | None = None
    last_used_at: str | None = None  # recorded at most once a minute (``PersonalAccessTokenRepository.record_pat_use``)

    def expired(self, today: str) -> bool:
        """Whether the token has expired by ``today`` (YYYY-MM-DD, UTC): GitLab compares
        ``expires_at <= now``, so a token expiring on D no longer works on D (SPEC §1.1)."""
        return self.expires_at is not None and self.expires_at <= today

    def active(self, today: str) -> bool:
        return not self.revoked and not self.expired(today)


@dataclass(frozen=True)
class Namespace:
    """Where a project lives: a group, or a user's personal namespace."""

    kind: str  # "group" | "user"
    id: int  # group id, or user id for a personal namespace
    name: str
    path: str
    full_path: str
    full_name: str
    parent_id: int | None = None


@dataclass(frozen=True)
class Group:
    id: int
    name: str
    path: str
    full_path: str
    full_name: str
    visibility: str
    created_at: str
    parent_id: int | None = None
    ancestor_ids: tuple[int, ...] = ()  # nearest parent first
    description: str = ""

    @property
    def self_and_ancestor_ids(self) -> tuple[int, ...]:
        return (self.id, *self.ancestor_ids)

    def as_namespace(self) -> Namespace:
        return Namespace("group", self.id, self.name, self.path, self.full_path, self.full_name, self.parent_id)


@dataclass(frozen=True)
class Project:
    id: int
    name: str
    path: str
    description: str
    visibility: str
    namespace: Namespace
    created_at: str
    creator_id: int
    default_branch: str = "main"
    group_ids: tuple[int, ...] = field(default=())  # its group, then that group's ancestors

    @property
    def path_with_namespace(self) -> str:
        return f"{self.namespace.full_path}/{self.path}"

    @property
    def name_with_namespace(self) -> str:
        return f"{self.namespace.full_name} / {self.name}"

    @property
    def personal_owner_id(self) -> int | None:
        return self.namespace.id if self.namespace.kind == "user" else None


@dataclass(frozen=True)
class Membership:
    source_kind: str  # "project" | "group"
    source_id: int
    user_id: int
    access_level: int
    created_at: str
    expires_at: str | None = None


@dataclass(frozen=True)
class Environment:
    name: str
    slug: str
    tier: str


@dataclass(frozen=True)
class Job:
    id: int
    project_id: int
    user_id: int
    pipeline_id: int
    status: str  # running | success | failed
    created_at: str
    ref: str = "main"
    ref_protected: bool = False
    environment: Environment | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"
