"""Projects in the directory table (key layout: ``store/keys.py``): a project and the pointer from
its full path. A project never changes once created, so each container caches the projects (and
paths) it has read."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from cluster_agents.domain.models import Membership, Project, User
from cluster_agents.errors import ValidationFailed
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo, ids
from cluster_agents.store import memberships as membership_writes
from cluster_agents.store.keys import PROJECT_COUNTER, project_key, project_path_key


class ProjectRepository:
    """Projects: number, create (with their path and their creator's membership), look up by id
    or path, read many at once."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._projects: dict[int, Project] = {}
        self._project_ids_by_path: dict[str, int] = {}

    def next_id(self) -> int:
        return ids.next_id(self.table, PROJECT_COUNTER)

    def get(self, project_id: int) -> Project | None:
        if project_id not in self._projects:
            item = dynamo.get(self.table, *project_key(project_id))
            if not item:
                return None
            self._projects[project_id] = stored.project(item)
        return self._projects[project_id]

    def find_id(self, full_path: str) -> int | None:
        path = full_path.lower()
        if path not in self._project_ids_by_path:
            item = dynamo.get(self.table, *project_path_key(path))
            if not item:
                return None
            self._project_ids_by_path[path] = item["project_id"]
        return self._project_ids_by_path[path]

    def get_many(self, project_ids: Iterable[int]) -> dict[int, Project]:
        """The projects that exist among ``project_ids``: none read for those already cached,
        one BatchGetItem for the rest (up to 100 keys a request)."""
        wanted = list(dict.fromkeys(project_ids))
        missing = [project_key(pid) for pid in wanted if pid not in self._projects]
        for item in dynamo.batch_get({self.table: missing})[self.table].values():
            self.remember(item)
        return {pid: self._projects[pid] for pid in wanted if pid in self._projects}

    def cached(self, project_id: int) -> Project | None:
        """The project if this container has read it already (no request)."""
        return self._projects.get(project_id)

    def remember(self, item: dict[str, Any]) -> Project:
        """The project of an item read elsewhere (a BatchGetItem of several repositories), cached."""
        project = self._projects[item["id"]] = stored.project(item)
        return project

    def create(self, project: Project, creator_membership: Membership | None, creator: User) -> None:
        """One transaction: the path pointer (the uniqueness of the path), the project and, when
        given, its creator's membership. ValidationFailed when the path is taken."""
        t = self.table
        path_pk, path_sk = project_path_key(project.path_with_namespace)
        actions = [
            dynamo.put_action(t, {"pk": path_pk, "sk": path_sk, "project_id": project.id}, "attribute_not_exists(pk)"),
            dynamo.put_action(t, stored.project_item(project), "attribute_not_exists(pk)"),
        ]
        if creator_membership:
            actions.append(membership_writes.put_action(t, creator_membership, creator))
        try:
            dynamo.transact(actions)
        except dynamo.TransactionCancelled as cancelled:
            if cancelled.failed(0):
                raise ValidationFailed(["Path has already been taken", "Name has already been taken"]) from None
            raise


@functools.cache
def projects() -> ProjectRepository:
    return ProjectRepository(get_settings().directory_table)
