"""Typed parameters at the edge (web.params, web.validation, web.guards): checked after the route's
guards, every problem in one 400 with Grape's messages in declaration order, the project reference
decoded once, and a body that is no JSON object refused on every route that reads parameters."""

from __future__ import annotations

from testkit.client import ApiClient
from tests.test_agents import create

JSON = {"Content-Type": "application/json"}


def test_the_credentials_come_before_the_parameters(world, api):
    project = world.project("typed")
    base = f"/projects/{project['id']}/cluster_agents"
    anonymous = ApiClient()
    assert anonymous.get(f"{base}/x").status == 401
    assert anonymous.post(f"{base}/x/tokens", json_body={}).status == 401
    assert ApiClient("glpat-unknown-token-000000").get(f"{base}?page=x").status == 401
    answer = api.get(f"{base}/x")
    assert (answer.status, answer.json()) == (400, {"error": "agent_id is invalid"})


def test_every_problem_at_once_in_declaration_order(world, api):
    project = world.project("typed")
    base = f"/projects/{project['id']}/cluster_agents"
    answer = api.get(f"{base}/1x/tokens?per_page=y&page=x")
    assert answer.json() == {"error": "agent_id is invalid, page is invalid, per_page is invalid"}
    answer = api.post(f"{base}/-/url_configurations", json_body={})
    assert answer.json() == {"error": "agent_id is invalid, url is missing"}
    answer = api.post(f"{base}/1/tokens", json_body={"description": "d"})
    assert (answer.status, answer.json()) == (400, {"error": "name is missing"})


def test_the_project_reference_is_decoded_once(world, api):
    project = world.project("typed")
    agent = create(api, project["id"], "edge")
    by_path = api.get(f"/projects/root%2Ftyped/cluster_agents/{agent['id']}")
    assert by_path.status == 200 and by_path.json()["id"] == agent["id"]
    assert api.get(f"/projects/root%252Ftyped/cluster_agents/{agent['id']}").status == 404


def test_a_body_that_is_no_json_object_is_refused_on_routes_with_parameters(world, api):
    project = world.project("typed")
    agent = create(api, project["id"], "edge")
    for method in ("GET", "DELETE"):
        answer = api.request(
            method, f"/projects/{project['id']}/cluster_agents/{agent['id']}", raw_body="{", headers=JSON
        )
        assert (answer.status, answer.json()) == (400, {"error": "The request body is not valid JSON"})


def test_no_route_answers_powertools_422(world, api):
    project = world.project("typed")
    answer = api.post(f"/projects/{project['id']}/cluster_agents", json_body={"name": {"a": 1}})
    assert (answer.status, answer.json()) == (400, {"error": "name is invalid"})
