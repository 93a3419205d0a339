"""The directory: users, personal access tokens, groups, projects, memberships and CI jobs.

Keys (DirectoryTable, pk / sk):
  USER#<id> / USER                 the user
  USERNAME#<name> / USERNAME       uniqueness of usernames (lower case), -> user_id
  EMAIL#<email> / EMAIL            uniqueness of e-mail addresses, -> user_id
  NAMESPACE#<full path> / NAMESPACE  uniqueness of user and group paths, -> kind, id
  PAT#<digest> / PAT               a personal access token, with a snapshot of its user;
                                   last_used_at, written at most once a minute (``record_pat_use``)
  PATID#<id> / PATID               token id -> digest (for revocation by id)
  GROUP#<id> / GROUP               a group, with its ancestors
  PROJECT#<id> / PROJECT           a project, with its namespace and groups
  PROJECTPATH#<full path> / PROJECTPATH  -> project_id
  MEMBERS#<project|group>#<id> / USER#<user id, 12 digits>  a membership, with a snapshot of its user
  JOB#<digest> / JOB               a CI job, keyed by its token's digest
  COUNTER / <entity>               atomic id counters (``value``); ``COUNTER / job`` also counts
                                   pipelines (``pipeline``), so a job and its pipeline get their
                                   ids in one UpdateItem (the ``COUNTER / pipeline`` item of earlier
                                   versions is no longer read: a table carried over from them
                                   numbers new pipelines from 1 again)
Groups and projects never change once created, so each container caches them."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from cluster_agents.domain.models import (
    Group,
    Job,
    Membership,
    Project,
    User,
)
from cluster_agents.errors import Conflict, ValidationFailed
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo
from cluster_agents.store.dynamo import TransactionCancelled

T = TypeVar("T")
JOB_COUNTER = "job"
PIPELINE_COUNTER_ATTRIBUTE = "pipeline"  # of the job counter item


@dataclass(frozen=True)
class ConfiguredPaths:
    """An agent's configuration project and the ci_access paths that name a project or group."""

    agent_project: Project | None
    projects: dict[str, Project]  # by lower-case full path
    groups: dict[str, Group]


class DirectoryRepository:
    """Users, tokens, groups, projects, memberships and jobs in the directory table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._projects: dict[int, Project] = {}
        self._project_ids_by_path: dict[str, int] = {}
        self._groups: dict[int, Group] = {}

    # ------------------------------------------------------------ ids
    def next_id(self, entity: str) -> int:
        return dynamo.next_id(self.table, entity)

    def next_job_ids(self, with_pipeline: bool) -> tuple[int, int | None]:
        """A new job id and, when asked, a new pipeline id: one UpdateItem of the job counter."""
        if not with_pipeline:
            return self.next_id(JOB_COUNTER), None
        ids = dynamo.next_ids(self.table, JOB_COUNTER, ("value", PIPELINE_COUNTER_ATTRIBUTE))
        return ids["value"], ids[PIPELINE_COUNTER_ATTRIBUTE]

    # ------------------------------------------------------------ users
    def get_user(self, user_id: int) -> User | None:
        item = dynamo.get(self.table, f"USER#{user_id}", "USER")
        return stored.user(item) if item else None

    def find_user_id_by_username(self, username: str) -> int | None:
        item = dynamo.get(self.table, f"USERNAME#{username.lower()}", "USERNAME")
        return item["user_id"] if item else None

    def create_user(self, user: User) -> None:
        """Create a user with its unique username, e-mail and personal namespace, atomically."""
        t = self.table
        actions = [
            dynamo.put_action(
                t,
                {"pk": f"USERNAME#{user.username.lower()}", "sk": "USERNAME", "user_id": user.id},
                "attribute_not_exists(pk)",
            ),
            dynamo.put_action(
                t, {"pk": f"EMAIL#{user.email.lower()}", "sk": "EMAIL", "user_id": user.id}, "attribute_not_exists(pk)"
            ),
            dynamo.put_action(
                t,
                {"pk": f"NAMESPACE#{user.username.lower()}", "sk": "NAMESPACE", "kind": "user", "id": user.id},
                "attribute_not_exists(pk)",
            ),
            dynamo.put_action(
                t, {"pk": f"USER#{user.id}", "sk": "USER", **stored.user_fields(user)}, "attribute_not_exists(pk)"
            ),
        ]
        try:
            dynamo.transact(actions)
        except TransactionCancelled as cancelled:
            if cancelled.failed(0) or cancelled.failed(2):
                raise Conflict("Username has already been taken") from None
            if cancelled.failed(1):
                raise Conflict("Email has already been taken") from None
            raise

    # ------------------------------------------------------------ groups and namespaces
    def get_group(self, group_id: int) -> Group | None:
        if group_id not in self._groups:
            item = dynamo.get(self.table, f"GROUP#{group_id}", "GROUP")
            if not item:
                return None
            self._groups[group_id] = stored.group(item)
        return self._groups[group_id]

    def find_namespace(self, full_path: str) -> tuple[str, int] | None:
        item = dynamo.get(self.table, f"NAMESPACE#{full_path.lower()}", "NAMESPACE")
        return (item["kind"], item["id"]) if item else None

    def create_group(self, group: Group, creator_membership: Membership, creator: User) -> None:
        t = self.table
        group_item = {
            "pk": f"GROUP#{group.id}",
            "sk": "GROUP",
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
        try:
            dynamo.transact(
                [
                    dynamo.put_action(
                        t,
                        {
                            "pk": f"NAMESPACE#{group.full_path.lower()}",
                            "sk": "NAMESPACE",
                            "kind": "group",
                            "id": group.id,
                        },
                        "attribute_not_exists(pk)",
                    ),
                    dynamo.put_action(t, group_item, "attribute_not_exists(pk)"),
                    self._membership_put(creator_membership, creator),
                ]
            )
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise ValidationFailed(["Path has already been taken"]) from None
            raise

    # ------------------------------------------------------------ projects
    def get_project(self, project_id: int) -> Project | None:
        if project_id not in self._projects:
            item = dynamo.get(self.table, f"PROJECT#{project_id}", "PROJECT")
            if not item:
                return None
            self._projects[project_id] = stored.project(item)
        return self._projects[project_id]

    def find_project_id(self, full_path: str) -> int | None:
        path = full_path.lower()
        if path not in self._project_ids_by_path:
            item = dynamo.get(self.table, f"PROJECTPATH#{path}", "PROJECTPATH")
            if not item:
                return None
            self._project_ids_by_path[path] = item["project_id"]
        return self._project_ids_by_path[path]

    def create_project(self, project: Project, creator_membership: Membership | None, creator: User) -> None:
        t = self.table
        ns = project.namespace
        item = {
            "pk": f"PROJECT#{project.id}",
            "sk": "PROJECT",
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
        actions = [
            dynamo.put_action(
                t,
                {
                    "pk": f"PROJECTPATH#{project.path_with_namespace.lower()}",
                    "sk": "PROJECTPATH",
                    "project_id": project.id,
                },
                "attribute_not_exists(pk)",
            ),
            dynamo.put_action(t, item, "attribute_not_exists(pk)"),
        ]
        if creator_membership:
            actions.append(self._membership_put(creator_membership, creator))
        try:
            dynamo.transact(actions)
        except TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise ValidationFailed(["Path has already been taken", "Name has already been taken"]) from None
            raise

    # ------------------------------------------------------------ many at once (the ci_access routes)
    def _batch_get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """BatchGetItem: one round trip up to 100 keys (DynamoDB's limit per request)."""
        return dynamo.batch_get({self.table: list(keys)})[self.table]

    def get_projects(self, project_ids: Iterable[int]) -> dict[int, Project]:
        """The projects that exist among ``project_ids``: none read for those already cached,
        one BatchGetItem for the rest."""
        wanted = list(dict.fromkeys(project_ids))
        for item in self._batch_get(stored.project_key(pid) for pid in wanted if pid not in self._projects).values():
            self._projects[item["id"]] = stored.project(item)
        return {pid: self._projects[pid] for pid in wanted if pid in self._projects}

    def get_user_and_memberships_reading(
        self, user_id: int, sources: Iterable[tuple[str, int]], read: dynamo.Read[T]
    ) -> tuple[User | None, list[Membership], T]:
        """The user, their memberships of the given (kind, id) sources, and another repository's
        ``read`` (of any table), all in one BatchGetItem (up to 100 keys in all)."""
        user_key = (f"USER#{user_id}", "USER")
        user_read = dynamo.Read(self.table, (user_key,), lambda found: stored.user(found[user_key]) if found else None)
        user, memberships, answer = dynamo.read_together(user_read, self._memberships_read(user_id, sources), read)
        return user, memberships, answer

    def resolve_configured_paths(
        self, agent_project_id: int, project_paths: Iterable[str], group_paths: Iterable[str]
    ) -> ConfiguredPaths:
        """The agent's project, and what the ``ci_access`` project and group paths name: one
        BatchGetItem for the agent's project and every path pointer together, then one more only
        for projects and groups not cached yet."""
        cached = self._projects.get(agent_project_id)
        if cached is not None and not cached.group_ids:
            group_paths = ()  # an agent of a personal project authorises no group
        project_pointers = {
            path: (f"PROJECTPATH#{path}", "PROJECTPATH")
            for path in dict.fromkeys(path.lower() for path in project_paths)
        }
        group_pointers = {
            path: (f"NAMESPACE#{path}", "NAMESPACE") for path in dict.fromkeys(path.lower() for path in group_paths)
        }
        own = [] if cached is not None else [stored.project_key(agent_project_id)]
        found = self._batch_get([*own, *project_pointers.values(), *group_pointers.values()])
        for key in own:
            if key in found:
                self._projects[agent_project_id] = stored.project(found[key])
        agent_project = self._projects.get(agent_project_id)
        if agent_project is None:
            return ConfiguredPaths(None, {}, {})
        project_ids = {path: found[key]["project_id"] for path, key in project_pointers.items() if key in found}
        group_ids = {
            path: found[key]["id"]
            for path, key in group_pointers.items()
            if agent_project.group_ids and key in found and found[key].get("kind") == "group"
        }
        missing = [stored.project_key(pid) for pid in dict.fromkeys(project_ids.values()) if pid not in self._projects]
        missing += [(f"GROUP#{gid}", "GROUP") for gid in dict.fromkeys(group_ids.values()) if gid not in self._groups]
        for key, item in self._batch_get(missing).items():
            if key[0].startswith("GROUP#"):
                self._groups[item["id"]] = stored.group(item)
            else:
                self._projects[item["id"]] = stored.project(item)
        return ConfiguredPaths(
            agent_project=agent_project,
            projects={path: self._projects[pid] for path, pid in project_ids.items() if pid in self._projects},
            groups={path: self._groups[gid] for path, gid in group_ids.items() if gid in self._groups},
        )

    # ------------------------------------------------------------ memberships
    def memberships_of(self, user_id: int, sources: Iterable[tuple[str, int]]) -> list[Membership]:
        """The user's memberships of the given (kind, id) sources, in one round trip."""
        return dynamo.read_together(self._memberships_read(user_id, sources))[0]

    def memberships_of_reading(
        self, user_id: int, sources: Iterable[tuple[str, int]], read: dynamo.Read[T]
    ) -> tuple[list[Membership], T]:
        """``memberships_of``, and another repository's ``read`` (of any table) in the same
        BatchGetItem: the memberships and that read's answer."""
        memberships, answer = dynamo.read_together(self._memberships_read(user_id, sources), read)
        return memberships, answer

    def _memberships_read(self, user_id: int, sources: Iterable[tuple[str, int]]) -> dynamo.Read[list[Membership]]:
        keys = tuple(
            dict.fromkeys(
                (stored.members_pk(kind, source_id), stored.member_sk(user_id)) for kind, source_id in sources
            )
        )
        return dynamo.Read(
            self.table, keys, lambda found: [stored.membership(found[key]) for key in keys if key in found]
        )

    def get_member(self, source_kind: str, source_id: int, user_id: int) -> tuple[Membership, User] | None:
        item = dynamo.get(self.table, stored.members_pk(source_kind, source_id), stored.member_sk(user_id))
        return (stored.membership(item), stored.user(item["user"])) if item else None

    def list_members(self, source_kind: str, source_id: int) -> list[tuple[Membership, User]]:
        items = dynamo.query_all(self.table, stored.members_pk(source_kind, source_id), sk_prefix="USER#")
        return [(stored.membership(item), stored.user(item["user"])) for item in items]

    def _membership_put(self, membership: Membership, user: User, condition: str | None = None) -> dict:
        item = {
            "pk": stored.members_pk(membership.source_kind, membership.source_id),
            "sk": stored.member_sk(membership.user_id),
            "source_kind": membership.source_kind,
            "source_id": membership.source_id,
            "user_id": membership.user_id,
            "access_level": membership.access_level,
            "created_at": membership.created_at,
            "expires_at": membership.expires_at,
            "user": stored.user_fields(user),
        }
        return dynamo.put_action(self.table, item, condition)

    def add_member(self, membership: Membership, user: User) -> None:
        try:
            dynamo.transact([self._membership_put(membership, user, "attribute_not_exists(pk)")])
        except TransactionCancelled:
            raise Conflict("Member already exists") from None

    def replace_member(self, membership: Membership, user: User) -> bool:
        """Overwrite an existing membership; False when there was none."""
        try:
            dynamo.transact([self._membership_put(membership, user, "attribute_exists(pk)")])
        except TransactionCancelled:
            return False
        return True

    def remove_member(self, source_kind: str, source_id: int, user_id: int) -> bool:
        try:
            dynamo.transact(
                [
                    dynamo.delete_action(
                        self.table,
                        stored.members_pk(source_kind, source_id),
                        stored.member_sk(user_id),
                        "attribute_exists(pk)",
                    )
                ]
            )
        except TransactionCancelled:
            return False
        return True

    # ------------------------------------------------------------ CI jobs
    def create_job(self, job: Job, digest: str) -> None:
        env = job.environment
        item = {
            "pk": f"JOB#{digest}",
            "sk": "JOB",
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
        dynamo.transact([dynamo.put_action(self.table, item, "attribute_not_exists(pk)")])

    def get_job_by_digest(self, digest: str) -> Job | None:
        item = dynamo.get(self.table, f"JOB#{digest}", "JOB")
        return stored.job(item) if item else None

    def finish_job(self, digest: str, status: str) -> bool:
        """Move a running job to ``status``; False when it was not running."""
        try:
            dynamo.transact(
                [
                    dynamo.update_action(
                        self.table,
                        f"JOB#{digest}",
                        "JOB",
                        "SET #s = :status",
                        "#s = :running",
                        names={"#s": "status"},
                        values={":status": status, ":running": "running"},
                    )
                ]
            )
        except TransactionCancelled:
            return False
        return True


@functools.cache
def directory() -> DirectoryRepository:
    return DirectoryRepository(get_settings().directory_table)
