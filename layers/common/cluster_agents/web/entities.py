"""GitLab's JSON entities for the directory (users, tokens, groups, projects, members, jobs)."""

from __future__ import annotations

from typing import Any, Literal

from cluster_agents import clock
from cluster_agents.domain.models import Group, Job, Membership, Namespace, PersonalAccessToken, Project, User
from cluster_agents.web.entity import Entity, ProjectIdentity
from cluster_agents.web.request import current


class UserBasic(Entity):
    """GitLab's ``UserBasic``."""

    id: int
    username: str
    name: str
    state: str
    locked: bool
    avatar_url: str | None
    web_url: str


class UserProfile(UserBasic):
    """GitLab's ``User``: another user, as anyone but an administrator sees them."""

    created_at: str
    bio: str
    bot: bool
    public_email: str | None


class UserDetails(UserProfile):
    """GitLab's ``UserPublic`` (yourself) and ``UserDetailsWithAdmin`` (an administrator's view)."""

    email: str
    is_admin: bool
    can_create_group: bool
    can_create_project: bool
    two_factor_enabled: bool
    external: bool


class PersonalAccessTokenEntity(Entity):
    """GitLab's ``PersonalAccessToken``."""

    id: int
    name: str
    revoked: bool
    created_at: str
    description: str | None
    scopes: list[str]
    user_id: int
    last_used_at: str | None
    active: bool
    expires_at: str | None


class PersonalAccessTokenWithToken(PersonalAccessTokenEntity):
    """GitLab's ``PersonalAccessTokenWithToken``: the only body that carries the token."""

    token: str


class MetadataKas(Entity):
    enabled: bool
    externalUrl: str | None
    externalK8sProxyUrl: str | None
    version: str


class Metadata(Entity):
    """GitLab's ``Metadata``."""

    version: str
    revision: str
    kas: MetadataKas
    enterprise: bool


class NamespaceEntity(Entity):
    """GitLab's ``NamespaceBasic``: a group, or a user's personal namespace."""

    id: int
    name: str
    path: str
    kind: Literal["group", "user"]
    full_path: str
    parent_id: int | None
    avatar_url: str | None
    web_url: str


class GroupEntity(Entity):
    """GitLab's ``Group``."""

    id: int
    web_url: str
    name: str
    path: str
    description: str
    visibility: str
    full_name: str
    full_path: str
    parent_id: int | None
    created_at: str
    avatar_url: str | None


class ProjectEntity(ProjectIdentity):
    """GitLab's ``Project`` (the fields this service has)."""

    default_branch: str
    visibility: str
    web_url: str
    namespace: NamespaceEntity
    creator_id: int


class MemberEntity(UserBasic):
    """GitLab's ``Member``."""

    access_level: int
    created_at: str
    expires_at: str | None


class JobPipeline(Entity):
    id: int
    project_id: int
    ref: str


class DeploymentEnvironment(Entity):
    name: str
    slug: str
    tier: str


class JobEntity(Entity):
    """A CI job as this service describes it (not GitLab's ``Ci::Job``)."""

    id: int
    status: Literal["running", "success", "failed"]
    ref: str
    ref_protected: bool
    created_at: str
    project_id: int
    user_id: int
    pipeline: JobPipeline
    environment: DeploymentEnvironment | None


class JobWithToken(JobEntity):
    """The created job: the only body that carries the job token."""

    token: str


def _web(path: str) -> str:
    return f"{current().base_url()}/{path}"


def user_basic(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "state": user.state,
        "locked": False,
        "avatar_url": None,
        "web_url": _web(user.username),
    }


def user_details(user: User, *, show_private: bool) -> dict[str, Any]:
    """``GET /user`` and admin views add the private fields."""
    body = {**user_basic(user), "created_at": user.created_at, "bio": "", "bot": False, "public_email": None}
    if show_private:
        body.update(
            {
                "email": user.email,
                "is_admin": user.is_admin,
                "can_create_group": True,
                "can_create_project": True,
                "two_factor_enabled": False,
                "external": False,
            }
        )
    return body


def personal_access_token(token: PersonalAccessToken, secret: str | None = None) -> dict[str, Any]:
    """GitLab's PersonalAccessToken entity (``PersonalAccessTokenWithToken`` with ``secret``)."""
    body: dict[str, Any] = {
        "id": token.id,
        "name": token.name,
        "revoked": token.revoked,
        "created_at": token.created_at,
        "description": token.description,
        "scopes": list(token.scopes),
        "user_id": token.user_id,
        "last_used_at": token.last_used_at,
        "active": token.active(clock.today().isoformat()),
        "expires_at": token.expires_at,
    }
    if secret is not None:
        body["token"] = secret
    return body


def metadata(
    version: str, revision: str, kas_external_url: str | None, kas_external_k8s_proxy_url: str | None
) -> dict[str, Any]:
    """``GET /metadata`` (GitLab's Metadata entity): every key always present."""
    return {
        "version": version,
        "revision": revision,
        "kas": {
            "enabled": True,
            "externalUrl": kas_external_url,
            "externalK8sProxyUrl": kas_external_k8s_proxy_url,
            "version": version,
        },
        "enterprise": False,
    }


def namespace(ns: Namespace) -> dict[str, Any]:
    return {
        "id": ns.id,
        "name": ns.name,
        "path": ns.path,
        "kind": ns.kind,
        "full_path": ns.full_path,
        "parent_id": ns.parent_id,
        "avatar_url": None,
        "web_url": _web(ns.full_path if ns.kind == "user" else f"groups/{ns.full_path}"),
    }


def group(grp: Group) -> dict[str, Any]:
    return {
        "id": grp.id,
        "web_url": _web(f"groups/{grp.full_path}"),
        "name": grp.name,
        "path": grp.path,
        "description": grp.description,
        "visibility": grp.visibility,
        "full_name": grp.full_name,
        "full_path": grp.full_path,
        "parent_id": grp.parent_id,
        "created_at": grp.created_at,
        "avatar_url": None,
    }


def project_identity(project: Project) -> dict[str, Any]:
    """GitLab's ProjectIdentity (an agent's ``config_project``)."""
    return {
        "id": project.id,
        "description": project.description,
        "name": project.name,
        "name_with_namespace": project.name_with_namespace,
        "path": project.path,
        "path_with_namespace": project.path_with_namespace,
        "created_at": project.created_at,
    }


def project(proj: Project) -> dict[str, Any]:
    return {
        **project_identity(proj),
        "default_branch": proj.default_branch,
        "visibility": proj.visibility,
        "web_url": _web(proj.path_with_namespace),
        "namespace": namespace(proj.namespace),
        "creator_id": proj.creator_id,
    }


def member(membership: Membership, user: User) -> dict[str, Any]:
    return {
        **user_basic(user),
        "access_level": membership.access_level,
        "created_at": membership.created_at,
        "expires_at": membership.expires_at,
    }


def job(jb: Job, secret: str | None = None) -> dict[str, Any]:
    env = jb.environment
    body: dict[str, Any] = {
        "id": jb.id,
        "status": jb.status,
        "ref": jb.ref,
        "ref_protected": jb.ref_protected,
        "created_at": jb.created_at,
        "project_id": jb.project_id,
        "user_id": jb.user_id,
        "pipeline": {"id": jb.pipeline_id, "project_id": jb.project_id, "ref": jb.ref},
        "environment": {"name": env.name, "slug": env.slug, "tier": env.tier} if env else None,
    }
    if secret is not None:
        body["token"] = secret
    return body
