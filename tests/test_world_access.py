"""Roles (SPEC §1.3), pagination headers (§1.5), parameter errors (§1.4) and members (§5)."""

from __future__ import annotations

import pytest
from cluster_agents.domain.access import AccessLevel

from testkit.client import ApiClient


def test_role_is_inherited_from_every_ancestor_group(world):
    top = world.group("top")
    sub = world.group("sub", parent_id=top["id"])
    project = world.project("deep", namespace_id=sub["id"])
    assert project["path_with_namespace"] == "top/sub/deep"
    assert project["name_with_namespace"] == "Top / Sub / deep"
    dev = world.user()
    outsider = world.user()
    world.member("group", top["id"], dev, AccessLevel.DEVELOPER)
    assert dev.client.get(f"/projects/{project['id']}").status == 200
    assert outsider.client.get(f"/projects/{project['id']}").status == 404
    # Developer (inherited) may not add members; Maintainer of the subgroup may.
    add = {"user_id": outsider.id, "access_level": AccessLevel.REPORTER}
    assert dev.client.post(f"/projects/{project['id']}/members", json_body=add).json() == {"message": "403 Forbidden"}
    world.member("group", sub["id"], dev, AccessLevel.MAINTAINER)
    assert dev.client.post(f"/projects/{project['id']}/members", json_body=add).status == 201
    # Only an Owner may grant Owner.
    owner_grant = {"access_level": AccessLevel.OWNER}
    assert dev.client.put(f"/projects/{project['id']}/members/{outsider.id}", json_body=owner_grant).status == 403


def test_public_project_is_visible_to_every_authenticated_user(world):
    owner = world.user()
    project = world.project("open", owner=owner, visibility="public")
    assert world.user().client.get(f"/projects/{project['id']}").status == 200
    assert ApiClient().get(f"/projects/{project['id']}").status == 401


def test_personal_project_owner_and_namespace(world):
    owner = world.user("alice")
    project = world.project("tool", owner=owner)
    assert project["path_with_namespace"] == "alice/tool"
    assert project["name_with_namespace"] == "Alice / tool"
    assert project["namespace"]["kind"] == "user"


def test_authentication_comes_before_parameter_validation(aws):
    response = ApiClient().post("/projects")
    assert (response.status, response.json()) == (401, {"message": "401 Unauthorized"})


def test_missing_parameters_are_listed(api):
    assert api.post("/users", json_body={}).json() == {
        "error": "email is missing, name is missing, username is missing"
    }
    assert api.post("/projects", json_body={}).json() == {
        "error": "name, path are missing, at least one parameter must be provided"
    }


def test_members_are_paginated_with_every_header(world, api):
    group = world.group("paged")
    for _ in range(4):
        world.member("group", group["id"], world.user(), AccessLevel.REPORTER)
    response = api.get(f"/groups/{group['id']}/members", params={"per_page": 2, "page": 2, "private_token": "x"})
    assert response.status == 200
    assert len(response.json()) == 2
    headers = response.headers
    assert (headers["X-Total"], headers["X-Total-Pages"], headers["X-Per-Page"], headers["X-Page"]) == (
        "5",
        "3",
        "2",
        "2",
    )
    assert (headers["X-Next-Page"], headers["X-Prev-Page"]) == ("3", "1")
    base = f"https://gitlab.test/api/v4/groups/{group['id']}/members"
    assert headers["Link"] == (
        f'<{base}?page=1&per_page=2>; rel="prev", <{base}?page=3&per_page=2>; rel="next", '
        f'<{base}?page=1&per_page=2>; rel="first", <{base}?page=3&per_page=2>; rel="last"'
    )


def test_page_past_the_end_and_clamping(world, api):
    group = world.group("few")
    response = api.get(f"/groups/{group['id']}/members", params={"page": 9, "per_page": 500})
    assert (response.status, response.json()) == (200, [])
    assert response.headers["X-Per-Page"] == "100"
    assert response.headers["X-Next-Page"] == response.headers["X-Prev-Page"] == ""
    assert 'rel="next"' not in response.headers["Link"]


@pytest.mark.parametrize("name", ["page", "per_page"])
def test_non_integer_page_parameters(world, api, name):
    group = world.group()
    response = api.get(f"/groups/{group['id']}/members", params={name: "abc"})
    assert (response.status, response.json()) == (400, {"error": f"{name} is invalid"})


def test_member_rules(world, api):
    project = world.project()
    person = world.user()
    path = f"/projects/{project['id']}/members"
    assert api.post(path, json_body={"user_id": person.id, "access_level": 33}).json() == {
        "error": "access_level does not have a valid value"
    }
    assert (
        api.post(path, json_body={"user_id": person.id, "access_level": 30, "expires_at": "2001-01-01"}).status == 400
    )
    assert api.post(path, json_body={"user_id": person.id, "access_level": 30}).status == 201
    assert api.post(path, json_body={"user_id": person.id, "access_level": 30}).status == 409
    updated = api.put(f"{path}/{person.id}", json_body={"access_level": 40})
    assert (updated.status, updated.json()["access_level"]) == (200, 40)
    assert api.delete(f"{path}/{person.id}").status == 204
    assert api.delete(f"{path}/{person.id}").json() == {"message": "404 Member Not Found"}


def test_admin_only_calls(world):
    person = world.user()
    assert person.client.post("/users", json_body={"username": "x", "name": "x", "email": "x@x.io"}).json() == {
        "message": "403 Forbidden"
    }
    assert person.client.post("/admin/ci/jobs", json_body={"project_id": 1, "user_id": 1}).status == 403


def test_job_lifecycle(world, api):
    project = world.project()
    job = api.post(
        "/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": 1, "environment": {"name": "review/123"}}
    )
    assert job.status == 201
    body = job.json()
    assert body["status"] == "running"
    assert body["environment"]["slug"].startswith("review-123-")
    assert body["environment"]["tier"] == "development"
    finished = ApiClient(body["token"]).put(f"/jobs/{body['id']}", json_body={"state": "success"}, auth="job-token")
    assert (finished.status, finished.json()["status"]) == (200, "success")
    again = ApiClient(body["token"]).put(f"/jobs/{body['id']}", json_body={"state": "success"}, auth="job-token")
    assert again.status == 403
