"""The OpenAPI description: generated from the code (and not drifting from it), valid, served by
the docs function, and honest: every status a real request gets is documented for its route.

The broad sample below sends the main success and failure cases of every route through the real
handlers; while it runs it also records each function's AWS calls and checks them against the
template's permissions (the template test checks they are no wider than listed)."""

from __future__ import annotations

import collections
import contextlib
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from devtools import openapi
from devtools.template import ROOT, functions
from testkit.client import ApiClient
from tests.faults import Fault, inject
from tests.test_kas import kas_headers
from tests.test_template import EXPECTED_PERMISSIONS

DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
PUBLIC_ROUTES = ("/api/v4/openapi.json", "/api/v4/docs", "/api/v4/docs/assets/{file}")  # no credentials, no store
URL = "grpcs://agent.example.com:4242"
OLD = "1990-01-12T00:00:48-0600"  # an If-Unmodified-Since before everything


def _documented_statuses() -> dict[tuple[str, str], set[int]]:
    return {
        (method.upper(), path): {int(status) for status in operation["responses"]}
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
    }


# ---------------------------------------------------------------- the document
def test_checked_in_documents_are_generated_from_the_code():
    """Fails when a route, a decorator's documentation or a model changed without `make openapi`
    (the docs function's packaged document; docs/openapi.json is a link to it, committed once)."""
    expected = openapi.render(openapi.build_document())
    for path in openapi.DOCUMENT_PATHS:
        assert path.read_text(encoding="utf-8") == expected, f"{path.relative_to(ROOT)}: run `make openapi`"
    assert openapi.READERS_LINK.is_symlink()
    assert openapi.READERS_LINK.resolve() == openapi.DOCUMENT_PATH.resolve()
    assert openapi.main(["--check"]) == 0


def test_document_is_valid_openapi():
    from openapi_spec_validator import validate

    validate(DOCUMENT)
    assert DOCUMENT["openapi"].startswith("3.")


def test_every_reference_resolves():
    text = json.dumps(DOCUMENT)
    for reference in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = DOCUMENT
        for part in reference.split("/"):
            node = node[part]


def test_document_describes_exactly_the_routes_of_the_template():
    routes = {route for function in functions() for route in function.routes}
    assert set(_documented_statuses()) == routes


def test_every_operation_documents_its_success_its_failures_and_the_unexpected():
    for (method, path), statuses in _documented_statuses().items():
        successes = {status for status in statuses if status < 400}
        assert len(successes) == 1, (method, path)
        assert 500 in statuses, (method, path)
        operation = DOCUMENT["paths"][path][method.lower()]
        unprocessable = json.dumps(operation["responses"].get("422", {}))
        assert "HTTPValidationError" not in unprocessable, (method, path)  # Powertools' 422: never returned
        assert operation["summary"] and operation["tags"], (method, path)
        if path not in PUBLIC_ROUTES:
            assert {429, 503} <= statuses, (method, path)  # the store can be busy on every other route
            assert operation.get("security"), (method, path)
    assert len(_documented_statuses()) >= 38


def test_failure_bodies_are_gitlabs():
    examples = DOCUMENT["components"]["examples"]
    bodies = [example["value"] for example in examples.values()]
    assert {"message": "401 Unauthorized"} in bodies
    assert {"message": "400 Bad request - An agent can have only two active tokens at a time"} in bodies
    assert {"message": "404 Project Not Found"} in bodies and {"message": "404 Not found"} in bodies
    assert all(set(body) <= {"message", "error", "error_description", "scope"} for body in bodies)


def test_request_bodies_come_from_the_parameter_models():
    create = DOCUMENT["paths"]["/api/v4/projects/{id}/cluster_agents/{agent_id}/tokens"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = DOCUMENT["components"]["schemas"][schema_ref.rsplit("/", 1)[1]]
    assert set(schema["properties"]) == {"name", "description"}  # agent_id comes by the path
    assert schema["required"] == ["name"]
    listing = DOCUMENT["paths"]["/api/v4/projects/{id}/cluster_agents"]["get"]
    assert {p["name"] for p in listing["parameters"] if p["in"] == "query"} == {"page", "per_page"}
    assert {"X-Total", "X-Next-Page", "Link"} <= set(listing["responses"]["200"]["headers"])


# ---------------------------------------------------------------- served
def test_the_docs_function_serves_the_document_with_its_own_base_url(aws):
    response = ApiClient().get("/openapi.json")
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    served = response.json()
    assert served["servers"] == [{"url": "https://gitlab.test", "description": "This deployment"}]
    assert {**served, "servers": DOCUMENT["servers"]} == DOCUMENT


def test_the_docs_page_browses_the_document(aws):
    response = ApiClient().get("/docs")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert 'url: "openapi.json"' in response.text and "swagger-ui-bundle.js" in response.text
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


@pytest.mark.e2e
@pytest.mark.xdist_group("local_api")  # the session's shared local API
def test_the_local_api_serves_the_packaged_document(local_api):
    import requests

    response = requests.get(f"{local_api.base_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.json()["paths"] == DOCUMENT["paths"]


# ---------------------------------------------------------------- honest statuses, least privilege
class Recorder:
    """(method, resource) -> statuses seen, and (function, service, action, resource) AWS calls."""

    def __init__(self) -> None:
        self.statuses: dict[tuple[str, str], set[int]] = collections.defaultdict(set)
        self.calls: set[tuple[str, str, str]] = set()
        self.function: str | None = None


@pytest.fixture
def recorder(aws, monkeypatch) -> Iterator[Recorder]:
    import botocore.client

    from devtools.apigw import match_route

    recorded = Recorder()
    dispatch = ApiClient._dispatch

    def recording_dispatch(self, method, raw_path, query, headers, body):
        matched = match_route(method, raw_path)
        recorded.function = matched[0].logical_id if matched else None
        try:
            response = dispatch(self, method, raw_path, query, headers, body)
        finally:
            recorded.function = None
        if response.event:
            recorded.statuses[(response.event["httpMethod"], response.event["resource"])].add(response.status)
        return response

    call = botocore.client.BaseClient._make_api_call
    names = {value: name for name, value in aws.refs.items()}

    def recording_call(client, operation, params):
        if recorded.function:
            service = client.meta.service_model.service_name
            for action, resource in _iam_actions(service, operation, params):
                recorded.calls.add((recorded.function, f"{service}:{action}", names.get(resource, resource)))
        return call(client, operation, params)

    monkeypatch.setattr(ApiClient, "_dispatch", recording_dispatch)
    # The SDK still retries injected faults, without waiting between attempts.
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording_call)
    yield recorded


def _iam_actions(service: str, operation: str, params: dict) -> list[tuple[str, str]]:
    """The IAM actions (and resource names) an API call needs."""
    if operation == "TransactWriteItems":
        kinds = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
        }
        return [(kinds[kind], body["TableName"]) for item in params["TransactItems"] for kind, body in item.items()]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(operation, table) for table in params["RequestItems"]]
    resource = params.get("TableName") or params.get("KeyId") or params.get("SecretId") or ""
    return [(operation, resource)]


def _expired_token(person: Any) -> Any:
    """A second token of ``person`` that expired long ago (the API refuses to create one)."""
    from cluster_agents.crypto import digest
    from cluster_agents.domain.models import PersonalAccessToken
    from cluster_agents.store.personal_access_tokens import personal_access_tokens
    from cluster_agents.store.users import users

    stale = PersonalAccessToken(
        id=888_888,
        user_id=person.id,
        name="old",
        scopes=("api",),
        created_at="2000-01-01T00:00:00.000Z",
        expires_at="2000-01-02",
    )
    personal_access_tokens().create_pat(stale, digest("glpat-expired-for-openapi"), users().get(person.id))
    person.client = ApiClient("glpat-expired-for-openapi")
    return person


def _exercise(world: Any, api: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main success and failure cases of every route, as real clients send them."""
    anonymous = ApiClient()
    maintainer, developer, reporter, outsider = (world.user() for _ in range(4))
    read_only = world.user(scopes=["read_api"])
    read_user = world.user(scopes=["read_user"])
    expired = _expired_token(world.user())
    revoked = world.user()
    revoked_pat = api.post(f"/users/{revoked.id}/personal_access_tokens", json_body={"name": "x", "scopes": ["api"]})
    api.delete(f"/personal_access_tokens/{revoked_pat.json()['id']}")
    assert revoked.client.as_(revoked_pat.json()["token"]).get("/user").status == 401

    # version, users, tokens
    anonymous.get("/version")
    for client in (api, anonymous, expired.client, revoked.client.as_(revoked_pat.json()["token"]), read_user.client):
        client.get("/user")
    anonymous.get("/user", raw_body="{", headers={"Content-Type": "application/json"})
    anonymous.get("/user", raw_body="[1]", headers={"Content-Type": "application/json"})
    api.get(f"/users/{maintainer.id}"), api.get("/users/999999"), api.get("/users/abc")
    api.post("/users", json_body={"username": "newbie", "name": "N", "email": "n@example.com"})
    api.post("/users", json_body={"username": "newbie", "name": "N", "email": "n2@example.com"})
    api.post("/users", json_body={"username": "bad", "name": "N", "email": "no-at-sign"})
    (
        api.post("/users", json_body={}),
        maintainer.client.post("/users", json_body={"username": "x", "name": "x", "email": "x@example.com"}),
    )
    api.post(f"/users/{maintainer.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["nope"]})
    api.post(
        f"/users/{maintainer.id}/personal_access_tokens",
        json_body={"name": "t", "scopes": ["api"], "expires_at": "2000-01-01"},
    )
    api.post("/users/999999/personal_access_tokens", json_body={"name": "t", "scopes": ["api"]})
    maintainer.client.post(f"/users/{maintainer.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["api"]})
    api.delete("/personal_access_tokens/999999"), api.delete("/personal_access_tokens/abc")
    read_only.client.post("/projects", json_body={"name": "nope"})

    # metadata, and the tokens users make for themselves
    k8s_proxy = world.user(scopes=["k8s_proxy"])
    for path in ("/metadata", "/version"):
        for method in ("GET", "HEAD"):
            api.request(method, path), anonymous.request(method, path), k8s_proxy.client.request(method, path)
    own = "/user/personal_access_tokens"
    maintainer.client.post(own, json_body={"name": "kubectl", "scopes": ["k8s_proxy"]})
    maintainer.client.post(own, json_body={}), maintainer.client.post(own, json_body={"name": "t", "scopes": ["api"]})
    maintainer.client.post(own, json_body={"name": "t", "scopes": "k8s_proxy", "expires_at": "soon"})
    maintainer.client.post(own, json_body={"name": "", "scopes": []})
    maintainer.client.post(own, json_body={"name": "t", "scopes": ["k8s_proxy"], "expires_at": "2999-01-01"})
    for client in (read_only.client, k8s_proxy.client):
        client.post(own, json_body={"name": "t", "scopes": ["k8s_proxy"]})
    for client in (k8s_proxy.client, anonymous, expired.client, revoked.client.as_(revoked_pat.json()["token"])):
        client.get("/personal_access_tokens/self")

    # groups, projects, members
    group = world.group("estate")
    api.post("/groups", json_body={"name": "Estate", "path": "estate"})
    api.post("/groups", json_body={"name": "X", "path": "-bad"}), api.post("/groups", json_body={})
    api.post("/groups", json_body={"name": "Sub", "path": "sub", "parent_id": 999999})
    outsider.client.post("/groups", json_body={"name": "Sub", "path": "sub", "parent_id": group["id"]})
    api.get(f"/groups/{group['id']}"), api.get("/groups/999999"), outsider.client.get(f"/groups/{group['id']}")
    project = world.project("estate-project", namespace_id=group["id"])
    pid = project["id"]
    api.post("/projects", json_body={"name": "estate-project", "namespace_id": group["id"]})
    (
        api.post("/projects", json_body={"description": "no name"}),
        api.post("/projects", json_body={"name": "x", "visibility": "odd"}),
    )
    api.post("/projects", json_body={"name": "x", "namespace_id": 999999})
    outsider.client.post("/projects", json_body={"name": "x", "namespace_id": group["id"]})
    api.post("/projects", json_body={"name": "big", "description": "x" * (5 * 1024 * 1024)})
    api.get(f"/projects/{pid}"), api.get("/projects/estate%2Festate-project"), outsider.client.get(f"/projects/{pid}")
    for person, level in ((maintainer, 40), (developer, 30), (reporter, 20)):
        world.member("project", pid, person, level)
    for kind, source in (("project", pid), ("group", group["id"])):
        base = f"/{kind}s/{source}/members"
        api.get(base), api.get(base, params={"page": "x"}), outsider.client.get(base)
        api.get(f"/{kind}s/999999/members")
        api.post(base, json_body={"user_id": outsider.id, "access_level": 30})
        api.post(base, json_body={"user_id": outsider.id, "access_level": 30})
        api.post(base, json_body={"user_id": 999999, "access_level": 30})
        api.post(base, json_body={"user_id": outsider.id, "access_level": 31}), api.post(base, json_body={})
        api.post(base, json_body={"user_id": read_user.id, "access_level": 30, "expires_at": "2000-01-01"})
        developer.client.post(base, json_body={"user_id": read_only.id, "access_level": 30})
        (
            api.put(f"{base}/{outsider.id}", json_body={"access_level": 20}),
            api.put(f"{base}/999999", json_body={"access_level": 20}),
        )
        api.put(f"{base}/abc", json_body={"access_level": 20}), api.put(f"{base}/{outsider.id}", json_body={})
        outsider.client.put(f"{base}/{outsider.id}", json_body={"access_level": 50})
        outsider.client.delete(f"{base}/{outsider.id}")
        api.delete(f"{base}/{outsider.id}"), api.delete(f"{base}/{outsider.id}"), api.delete(f"{base}/abc")

    # agents
    agents = f"/projects/{pid}/cluster_agents"
    agent = maintainer.client.post(agents, json_body={"name": "agent"}).json()
    maintainer.client.post(agents, json_body={"name": "agent"}), maintainer.client.post(agents, json_body={})
    maintainer.client.post(agents, json_body={"name": "Bad Name"})
    developer.client.post(agents, json_body={"name": "a"})
    outsider.client.post(agents, json_body={"name": "a"})
    for client in (developer.client, reporter.client, outsider.client):
        client.get(agents), client.get(f"{agents}/{agent['id']}")
    api.get(agents, params={"per_page": "x"}), api.get(f"{agents}/abc"), api.get(f"{agents}/999999")
    doomed = maintainer.client.post(agents, json_body={"name": "doomed"}).json()
    maintainer.client.delete(f"{agents}/{doomed['id']}", headers={"If-Unmodified-Since": OLD})
    developer.client.delete(f"{agents}/{doomed['id']}"), maintainer.client.delete(f"{agents}/abc")
    maintainer.client.delete(f"{agents}/{doomed['id']}"), maintainer.client.delete(f"{agents}/{doomed['id']}")

    # agent tokens
    tokens = f"{agents}/{agent['id']}/tokens"
    first = maintainer.client.post(tokens, json_body={"name": "one"}).json()
    maintainer.client.post(tokens, json_body={"name": "two", "description": "second"})
    maintainer.client.post(tokens, json_body={"name": "three"}), maintainer.client.post(tokens, json_body={})
    (
        developer.client.post(tokens, json_body={"name": "x"}),
        maintainer.client.post(f"{agents}/999999/tokens", json_body={"name": "x"}),
    )
    developer.client.get(tokens), reporter.client.get(tokens), api.get(tokens, params={"page": "x"})
    api.get(f"{agents}/abc/tokens"), developer.client.get(f"{tokens}/{first['id']}"), api.get(f"{tokens}/999999")
    api.get(f"{tokens}/abc")
    maintainer.client.delete(f"{tokens}/{first['id']}"), maintainer.client.delete(f"{tokens}/999999")
    developer.client.delete(f"{tokens}/{first['id']}"), api.get(f"{tokens}/{first['id']}")
    maintainer.client.post(tokens, json_body={"name": ""})
    agent_token = maintainer.client.post(tokens, json_body={"name": "kas"}).json()["token"]

    # URL configurations
    configurations = f"{agents}/{agent['id']}/url_configurations"
    maintainer.client.get(configurations), reporter.client.get(configurations)
    maintainer.client.post(configurations, json_body={"url": "http://not-grpc"})
    maintainer.client.post(configurations, json_body={}), developer.client.post(configurations, json_body={"url": URL})
    made = maintainer.client.post(configurations, json_body={"url": URL}).json()
    maintainer.client.post(configurations, json_body={"url": URL})
    developer.client.get(f"{configurations}/{made['id']}"), developer.client.get(f"{configurations}/999999")
    api.get(f"{configurations}/abc"), api.get(f"{agents}/999999/url_configurations")
    maintainer.client.delete(f"{configurations}/{made['id']}", headers={"If-Unmodified-Since": OLD})
    developer.client.delete(f"{configurations}/{made['id']}"), maintainer.client.delete(f"{configurations}/999999")
    maintainer.client.delete(f"{configurations}/{made['id']}")
    from cluster_agents.settings import get_settings

    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "false")
    get_settings.cache_clear()
    api.get(configurations), api.get(f"{configurations}/1"), api.post(configurations, json_body={"url": URL})
    api.delete(f"{configurations}/1")
    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "true")
    get_settings.cache_clear()

    # CI jobs and the runner
    job = api.post(
        "/admin/ci/jobs", json_body={"project_id": pid, "user_id": developer.id, "environment": {"name": "production"}}
    ).json()
    api.post("/admin/ci/jobs", json_body={}), api.post("/admin/ci/jobs", json_body={"project_id": 999999, "user_id": 1})
    api.post("/admin/ci/jobs", json_body={"project_id": pid, "user_id": 999999})
    maintainer.client.post("/admin/ci/jobs", json_body={"project_id": pid, "user_id": developer.id})
    ApiClient(job["token"]).get("/job/allowed_agents", auth="job-token")
    ApiClient(job["token"]).get("/job/allowed_agents", auth="bearer"), api.get("/job/allowed_agents")
    anonymous.get("/job/allowed_agents"), ApiClient("glcbt-unknown").get("/job/allowed_agents", auth="job-token")
    expired.client.get("/job/allowed_agents"), read_user.client.get("/job/allowed_agents")
    runner = ApiClient(job["token"])
    runner.put(f"/jobs/{job['id']}", json_body={"state": "done"}, auth="job-token")
    anonymous.put(f"/jobs/{job['id']}", json_body={"state": "success", "token": "glcbt-wrong"})
    anonymous.put("/jobs/abc", json_body={"state": "success"})
    runner.put(f"/jobs/{job['id']}", json_body={"state": "success"}, auth="job-token")
    runner.put(f"/jobs/{job['id']}", json_body={"state": "success"}, auth="job-token")
    runner.get("/job/allowed_agents", auth="job-token")

    # the agent server
    for path in ("/internal/kubernetes/agent_info", "/internal/agents/agentk/agent_info"):
        anonymous.get(path, headers=kas_headers(agent_token)), anonymous.get(path, headers=kas_headers())
        (
            anonymous.get(path, headers=kas_headers("glagent-unknown")),
            anonymous.get(path, headers={"Authorization": f"Bearer {agent_token}"}),
        )
    configuration = "/internal/kubernetes/agent_configuration"
    anonymous.post(
        configuration,
        json_body={
            "agent_id": agent["id"],
            "agent_config": {"ci_access": {"projects": [{"id": "estate/estate-project"}]}},
        },
        headers=kas_headers(),
    )
    anonymous.post(configuration, json_body={"agent_id": 999999, "agent_config": {}}, headers=kas_headers())
    anonymous.post(configuration, json_body={"agent_config": "not json"}, headers=kas_headers())
    anonymous.post(configuration, json_body={"agent_id": agent["id"], "agent_config": {}})
    anonymous.post(configuration, raw_body="{", headers={**kas_headers(), "Content-Type": "application/json"})
    maintainer.client.post(configurations, json_body={"url": URL})  # receptive again, for the list
    anonymous.get("/internal/kubernetes/receptive_agents", headers=kas_headers())
    anonymous.get("/internal/kubernetes/receptive_agents")
    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "false")
    get_settings.cache_clear()
    anonymous.get("/internal/kubernetes/receptive_agents", headers=kas_headers())
    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "true")
    get_settings.cache_clear()
    verify = "/internal/kubernetes/verify_project_access"
    anonymous.get(verify, params={"id": str(pid)}, headers=kas_headers(agent_token, "Gitlab-Agentk-Api-Request"))
    anonymous.get(verify, params={"id": "estate/nothing"}, headers=kas_headers(agent_token, "Gitlab-Agent-Api-Request"))
    anonymous.get(verify, params={"id": str(pid)}, headers=kas_headers("glagent-unknown"))
    anonymous.get(verify, params={"id": str(pid)})
    for path, invalid in (
        ("/internal/kubernetes/usage_metrics", {"counters": {"k8s_api_proxy_request": "x"}}),
        ("/internal/kubernetes/agent_events", {"events": []}),
    ):
        (
            anonymous.post(path, json_body={}, headers=kas_headers()),
            anonymous.post(path, json_body=invalid, headers=kas_headers()),
        )
        anonymous.post(path, json_body={})

    # the docs
    anonymous.get("/openapi.json"), anonymous.get("/docs"), anonymous.get("/docs/assets/nothing.js")

    fault = Fault(
        "TransactWriteItems",
        "TransactionCanceledException",
        times=100,
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}]},
    )
    with inject("dynamodb", fault):
        maintainer.client.post(agents, json_body={"name": "busy"})

    # every route: no credentials, a body that is not JSON, a body too large, an expired token, a
    # throttled store (429), an unavailable one (503) and an unexpected error (500)
    values = {
        "id": str(pid),
        "agent_id": str(agent["id"]),
        "token_id": "1",
        "url_configuration_id": "1",
        "user_id": str(outsider.id),
        "job_id": str(job["id"]),
        "file": "swagger-ui.css",
    }
    as_json = {"Content-Type": "application/json"}
    for method, path in _documented_statuses():
        concrete = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path).removeprefix("/api/v4")
        kas = kas_headers(agent_token) if "/internal/" in path else {}
        anonymous.request(method, concrete, headers=kas)
        anonymous.request(method, concrete, raw_body="{", headers={**kas, **as_json})
        anonymous.request(method, concrete, raw_body="[" * 10 + "]" * 10, headers={**kas, **as_json})
        anonymous.request(
            method, concrete, raw_body=json.dumps({"x": "y" * (5 * 1024 * 1024)}), headers={**kas, **as_json}
        )
        expired.client.request(method, concrete, headers=kas)
        read_user.client.request(method, concrete, headers=kas)  # a token without API scope
        for failure in (
            Fault("*", "ThrottlingException", times=100),
            Fault("*", "InternalServerError", times=100, status=500),
            Fault("*", "ValidationException", times=100),
        ):
            with inject("dynamodb", failure):
                api.request(method, concrete, headers=kas)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    import logging

    logging.disable(logging.CRITICAL)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def test_every_status_a_route_answers_with_is_documented_for_it(recorder, world, api, monkeypatch):
    with _quiet_logs():
        _exercise(world, api, monkeypatch)
    documented = _documented_statuses()
    undocumented = {
        route: sorted(statuses - documented[route])
        for route, statuses in recorder.statuses.items()
        if statuses - documented[route]
    }
    assert undocumented == {}
    assert set(recorder.statuses) == set(documented), "routes the sample never reached"
    failures = {route for route, statuses in recorder.statuses.items() if any(s >= 400 for s in statuses)}
    assert set(documented) - failures <= {("GET", "/api/v4/openapi.json"), ("GET", "/api/v4/docs")}
    seen = {status for statuses in recorder.statuses.values() for status in statuses}
    assert {200, 201, 204, 400, 401, 403, 404, 409, 412, 413, 429, 503} <= seen
    assert sum(len(statuses) for statuses in recorder.statuses.values()) >= 300


def test_functions_call_aws_only_as_the_template_allows(recorder, world, api, monkeypatch):
    with _quiet_logs():
        _exercise(world, api, monkeypatch)
    beyond = sorted(
        (function, action, resource)
        for function, action, resource in recorder.calls
        if action not in EXPECTED_PERMISSIONS[function].get(resource, set())
    )
    assert beyond == []
    used = {(function, resource) for function, _, resource in recorder.calls}
    assert {
        ("WorldFunction", "DirectoryTable"),
        ("AgentsFunction", "AgentsTable"),
        ("AgentTokensFunction", "AgentsTable"),
        ("UrlConfigurationsFunction", "DataKey"),
        ("CiJobsFunction", "AgentsTable"),
        ("KasFunction", "AgentsTable"),
        ("KasReceptiveFunction", "DataKey"),
        ("KasReceptiveFunction", "AgentsTable"),
    } <= used
    assert not any(function == "DocsFunction" for function, _, _ in recorder.calls)
