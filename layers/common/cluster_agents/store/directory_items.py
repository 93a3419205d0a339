"""How the directory's records are stored: the item <-> record mappings of the directory table's
repositories (users, namespaces, groups, projects, memberships, jobs, personal access tokens;
their keys: ``store/keys.py``)."""

from __future__ import annotations

from typing import Any

from cluster_agents.domain.models import (
    Environment,
    Group,
    Job,
    Membership,
    Namespace,
    PersonalAccessToken,
    Project,
    User,
)
from cluster_agents.store.keys import group_key, job_key, member_key, project_key


def user(item: dict[str, Any]) -> User:
    return User(
        id=item["id"],
        username=item["username"],
        name=item["name"],
        email=item.get("email", ""),
        is_admin=bool(item.get("is_admin")),
        created_at=item["created_at"],
        state=item.get("state", "active"),
    )


def user_fields(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.name,
        "email": user.email,
        "is_admin": user.is_admin,
        "created_at": user.created_at,
        "state": user.state,
    }


def namespace(data: dict[str, Any]) -> Namespace:
    return Namespace(**data)


def group(item: dict[str, Any]) -> Group:
    return Group(
        id=item["id"],
        name=item["name"],
        path=item["path"],
        full_path=item["full_path"],
        full_name=item["full_name"],
        visibility=item["visibility"],
        created_at=item["created_at"],
        parent_id=item.get("parent_id"),
        ancestor_ids=tuple(item.get("ancestor_ids", [])),
        description=item.get("description", ""),
    )


def project(item: dict[str, Any]) -> Project:
    return Project(
        id=item["id"],
        name=item["name"],
        path=item["path"],
        description=item.get("description", ""),
        visibility=item["visibility"],
        namespace=namespace(item["namespace"]),
        created_at=item["created_at"],
        creator_id=item["creator_id"],
        default_branch=item.get("default_branch", "main"),
        group_ids=tuple(item.get("group_ids", [])),
    )


def membership(item: dict[str, Any]) -> Membership:
    return Membership(
        source_kind=item["source_kind"],
        source_id=item["source_id"],
        user_id=item["user_id"],
        access_level=item["access_level"],
        created_at=item["created_at"],
        expires_at=item.get("expires_at"),
    )


def pat(item: dict[str, Any]) -> PersonalAccessToken:
    return PersonalAccessToken(
        id=item["id"],
        user_id=item["user_id"],
        name=item["name"],
        scopes=tuple(item["scopes"]),
        created_at=item["created_at"],
        expires_at=item.get("expires_at"),
        revoked=bool(item.get("revoked")),
        description=item.get("description"),
        last_used_at=item.get("last_used_at"),
    )


def job(item: dict[str, Any]) -> Job:
    env = item.get("environment")
    return Job(
        id=item["id"],
        project_id=item["project_id"],
        user_id=item["user_id"],
        pipeline_id=item["pipeline_id"],
        status=item["status"],
        created_at=item["created_at"],
        ref=item.get("ref", "main"),
        ref_protected=bool(item.get("ref_protected")),
        environment=Environment(**env) if env else None,
    )


def group_item(group: Group) -> dict[str, Any]:
    pk, sk = group_key(group.id)
    return {
        "pk": pk,
        "sk": sk,
        "id": group.id,
        "name": group.name,
        "path": group.path,
        "full_path": group.full_path,
        "full_name": group.full_name,
        "visibility": group.visibility,
        "created_at": group.created_at,
        "parent_id": group.parent_id,
        "ancestor_ids": list(group.ancestor_ids),
        "description": group.description,
    }


def project_item(project: Project) -> dict[str, Any]:
    pk, sk = project_key(project.id)
    ns = project.namespace
    return {
        "pk": pk,
        "sk": sk,
        "id": project.id,
        "name": project.name,
        "path": project.path,
        "description": project.description,
        "visibility": project.visibility,
        "namespace": {
            "kind": ns.kind,
            "id": ns.id,
            "name": ns.name,
            "path": ns.path,
            "full_path": ns.full_path,
            "full_name": ns.full_name,
            "parent_id": ns.parent_id,
        },
        "created_at": project.created_at,
        "creator_id": project.creator_id,
        "default_branch": project.default_branch,
        "group_ids": list(project.group_ids),
    }


def membership_item(membership: Membership, user: User) -> dict[str, Any]:
    """A membership, with a snapshot of its user (so listing members reads no user)."""
    pk, sk = member_key(membership.source_kind, membership.source_id, membership.user_id)
    return {
        "pk": pk,
        "sk": sk,
        "source_kind": membership.source_kind,
        "source_id": membership.source_id,
        "user_id": membership.user_id,
        "access_level": membership.access_level,
        "created_at": membership.created_at,
        "expires_at": membership.expires_at,
        "user": user_fields(user),
    }


def job_item(job: Job, token_digest: str) -> dict[str, Any]:
    pk, sk = job_key(token_digest)
    env = job.environment
    return {
        "pk": pk,
        "sk": sk,
        "id": job.id,
        "project_id": job.project_id,
        "user_id": job.user_id,
        "pipeline_id": job.pipeline_id,
        "status": job.status,
        "created_at": job.created_at,
        "ref": job.ref,
        "ref_protected": job.ref_protected,
        "environment": {"name": env.name, "slug": env.slug, "tier": env.tier} if env else None,
    }
