"""Hostile input gets a clear 4xx in GitLab's error shape, never a 5xx or a traceback."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ODD_IDS = [
    "0",
    "-1",
    "99999999999999999999999999",
    "1e3",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%E2%80%AE1",
    "1%20OR%201%3D1",
    "root%2F..%2F..",
    "%2F",
    "a" * 2000,
    "%C0%AE%C0%AE",
]


def _gitlab_error_shape(body) -> bool:
    return isinstance(body, dict) and (isinstance(body.get("message"), str) or isinstance(body.get("error"), str))


@pytest.mark.parametrize("odd", ODD_IDS)
def test_odd_ids_are_clear_4xx(api, odd):
    for path in (
        f"/projects/{odd}",
        f"/users/{odd}",
        f"/groups/{odd}",
        f"/projects/{odd}/members",
        f"/projects/1/members/{odd}",
    ):
        response = api.get(path)
        assert 400 <= response.status < 500, (path, response.status, response.text)
        assert _gitlab_error_shape(response.json()), response.text


@pytest.mark.parametrize("body", ["{", "[1, 2", "\x00\x01", "null", "[]", '"string"', "12", '{"name": ' * 5000])
def test_malformed_json_bodies(api, body):
    response = api.post("/projects", raw_body=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status < 500, (body[:20], response.status, response.text)
    assert _gitlab_error_shape(response.json())


def test_huge_body_is_413(api):
    response = api.post("/projects", json_body={"name": "x", "description": "d" * (5 * 1024 * 1024)})
    assert response.status == 413


def test_wrong_types_are_invalid_parameters(api):
    response = api.post("/projects", json_body={"name": {"nested": True}})
    assert (response.status, response.json()) == (400, {"error": "name is invalid"})
    response = api.post("/groups", json_body={"name": "g", "path": "g", "parent_id": "abc"})
    assert (response.status, response.json()) == (400, {"error": "parent_id is invalid"})
    response = api.post("/groups", json_body={"name": "g", "path": "g", "visibility": "secret"})
    assert response.status == 400


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.dictionaries(
        st.sampled_from(["name", "path", "namespace_id", "visibility", "description"]),
        st.one_of(
            st.text(max_size=300), st.integers(), st.none(), st.booleans(), st.lists(st.text(max_size=5), max_size=3)
        ),
        max_size=5,
    )
)
def test_project_creation_never_fails_with_5xx(api, payload):
    response = api.post("/projects", json_body=payload)
    assert response.status < 500, (payload, response.text)
    assert isinstance(response.json(), dict)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.text(min_size=0, max_size=80), email=st.text(max_size=40), name=st.text(max_size=300))
def test_user_creation_never_fails_with_5xx(api, username, email, name):
    response = api.post("/users", json_body={"username": username, "email": email, "name": name})
    assert response.status < 500, (username, email, response.text)
    body = response.json()
    if response.status >= 400:
        assert _gitlab_error_shape(body), body


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(page=st.text(max_size=25), per_page=st.text(max_size=25))
def test_pagination_parameters_never_fail_with_5xx(api, page, per_page):
    response = api.get("/projects/1/members", params={"page": page, "per_page": per_page})
    assert response.status < 500, (page, per_page, response.text)
    json.loads(response.text)
