"""The world routes' typed parameters: every problem of a request in one 400, in the order the
route declares its parameters (path, then body), as Grape joins them; credentials first."""

from __future__ import annotations

import pytest

from testkit.client import ApiClient


@pytest.mark.parametrize("kind", ["projects", "groups"])
def test_member_problems_are_joined_in_declaration_order(world, api, kind):
    source = world.project() if kind == "projects" else world.group()
    path = f"/{kind}/{source['id']}/members"
    changed = api.put(f"{path}/x1", json_body={"access_level": 33})
    assert (changed.status, changed.json()) == (
        400,
        {"error": "user_id is invalid, access_level does not have a valid value"},
    )
    added = api.post(path, json_body={"access_level": "abc", "expires_at": "never"})
    assert (added.status, added.json()) == (
        400,
        {"error": "user_id is missing, access_level is invalid, expires_at is invalid"},
    )
    listed = api.get(path, params={"page": "x", "per_page": "y"})
    assert (listed.status, listed.json()) == (400, {"error": "page is invalid, per_page is invalid"})


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/1x"),
        ("POST", "/users/-/personal_access_tokens"),
        ("DELETE", "/personal_access_tokens/1.5"),
        ("PUT", "/projects/1/members/%20"),
        ("DELETE", "/groups/1/members/" + "9" * 40),
    ],
)
def test_a_bad_token_answers_before_a_bad_id(aws, method, path):
    response = ApiClient("glpat-not-a-token").request(method, path, json_body={})
    assert (response.status, response.json()) == (401, {"message": "401 Unauthorized"})


def test_a_project_by_its_encoded_full_path(world, api):
    project = world.project()
    encoded = project["path_with_namespace"].replace("/", "%2F")
    assert api.get(f"/projects/{encoded}").json()["id"] == project["id"]
    assert api.get(f"/projects/{encoded}/members").status == 200
