"""How the directory's records are stored: the key builders and the item <-> record mappings of
``store/directory.py`` (its docstring has the key layout)."""

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


def members_pk(source_kind: str, source_id: int) -> str:
    return f"MEMBERS#{source_kind}#{source_id}"


def member_sk(user_id: int) -> str:
    return f"USER#{user_id:012d}"


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


def project_key(project_id: int) -> tuple[str, str]:
    return f"PROJECT#{project_id}", "PROJECT"
