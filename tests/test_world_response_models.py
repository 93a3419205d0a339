"""Every world response with a body has exactly the fields of the model its route documents, in
the model's order (the OpenAPI schemas describe the bodies GitLab's clients read)."""

from __future__ import annotations

from typing import Any

import pytest
from cluster_agents.web import entities as models
from pydantic import BaseModel

from testkit.client import ApiClient


def _same_shape(body: Any, model: type[BaseModel]) -> None:
    """``body`` has the model's fields, in its order, each validated (nested models too)."""
    assert list(body) == list(model.model_fields), (model.__name__, list(body))
    model.model_validate(body, strict=True)
    for name, field in model.model_fields.items():
        nested = field.annotation
        candidates = getattr(nested, "__args__", (nested,))
        for candidate in candidates:
            if isinstance(candidate, type) and issubclass(candidate, BaseModel) and isinstance(body[name], dict):
                _same_shape(body[name], candidate)


@pytest.mark.parametrize("admin", [True, False])
def test_world_bodies_have_their_models_shape(world, api, admin):
    person = world.user()
    caller = api if admin else person.client
    _same_shape(api.get("/metadata").json(), models.Metadata)
    _same_shape(caller.get("/user").json(), models.UserDetails)
    other = caller.get("/users/1").json()
    _same_shape(other, models.UserDetails if admin else models.UserProfile)
    _same_shape(
        api.post("/users", json_body={"username": "shape", "name": "S", "email": "s@x.io"}).json(), models.UserDetails
    )
    created = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["api"]}).json()
    _same_shape(created, models.PersonalAccessTokenWithToken)
    _same_shape(
        ApiClient(created["token"]).get("/personal_access_tokens/self").json(), models.PersonalAccessTokenEntity
    )
    own = person.client.post("/user/personal_access_tokens", json_body={"name": "k", "scopes": ["k8s_proxy"]}).json()
    _same_shape(own, models.PersonalAccessTokenWithToken)
    group = caller.post("/groups", json_body={"name": "g", "path": f"g-{admin}"}).json()
    _same_shape(group, models.GroupEntity)
    _same_shape(caller.get(f"/groups/{group['id']}").json(), models.GroupEntity)
    for namespace_id in (group["id"], None):
        project = caller.post("/projects", json_body={"name": "p", "namespace_id": namespace_id}).json()
        _same_shape(project, models.ProjectEntity)
        _same_shape(caller.get(f"/projects/{project['id']}").json(), models.ProjectEntity)
    for source in (f"/projects/{project['id']}", f"/groups/{group['id']}"):
        member = caller.post(
            f"{source}/members", json_body={"user_id": 1 if not admin else person.id, "access_level": 30}
        )
        _same_shape(member.json(), models.MemberEntity)
        listed = caller.get(f"{source}/members").json()
        assert listed
        for item in listed:
            _same_shape(item, models.MemberEntity)
        _same_shape(
            caller.put(f"{source}/members/{member.json()['id']}", json_body={"access_level": 40}).json(),
            models.MemberEntity,
        )
    for environment in (None, {"name": "production"}):
        job = api.post(
            "/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": 1, "environment": environment}
        )
        _same_shape(job.json(), models.JobWithToken)
        finished = ApiClient(job.json()["token"]).put(
            f"/jobs/{job.json()['id']}", json_body={"state": "success"}, auth="job-token"
        )
        _same_shape(finished.json(), models.JobEntity)
