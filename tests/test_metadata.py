"""GET/HEAD /metadata and /version (SPEC §5), and the scopes each route group accepts (SPEC §1.1,
§7.4): a token with none of them gets 403 naming every scope the route registers."""

from __future__ import annotations

import pytest

from testkit.client import ApiClient

SCOPE_ERROR = "The request requires higher privileges than provided by the access token."
METADATA_SCOPES = "read_user ai_features api read_api"
USERS_SCOPES = "read_user api read_api"
API_SCOPES = "api read_api"


def insufficient(scope: str) -> dict:
    return {"error": "insufficient_scope", "error_description": SCOPE_ERROR, "scope": scope}


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# ---------------------------------------------------------------- the body
@pytest.mark.parametrize("path", ["/metadata", "/version"])
def test_metadata_body_has_every_key_in_gitlabs_order(api, path):
    from cluster_agents.settings import get_settings

    response = api.get(path)

    assert (response.status, response.headers["Content-Type"]) == (200, "application/json")
    settings = get_settings()
    assert response.text == (
        f'{{"version":"{settings.version}","revision":"{settings.revision}","kas":{{"enabled":true,'
        f'"externalUrl":null,"externalK8sProxyUrl":null,"version":"{settings.version}"}},"enterprise":false}}'
    )
    assert _version_tuple(response.json()["version"]) >= (17, 11, 0)
    assert response.json()["revision"]


def test_metadata_and_version_answer_the_same(api):
    assert api.get("/metadata").text == api.get("/version").text


def test_kas_urls_come_from_the_settings(api, monkeypatch):
    from cluster_agents.settings import get_settings

    monkeypatch.setenv("KAS_EXTERNAL_URL", "wss://kas.example.com")
    monkeypatch.setenv("KAS_EXTERNAL_K8S_PROXY_URL", "https://kas.example.com/k8s-proxy")
    get_settings.cache_clear()

    kas = api.get("/metadata").json()["kas"]

    assert kas == {
        "enabled": True,
        "externalUrl": "wss://kas.example.com",
        "externalK8sProxyUrl": "https://kas.example.com/k8s-proxy",
        "version": get_settings().version,
    }


def test_only_the_proxy_url_set_stays_alone(api, monkeypatch):
    """GitLab derives the proxy URL from the external URL; the contract does not (SPEC §5 Choice)."""
    from cluster_agents.settings import get_settings

    monkeypatch.setenv("KAS_EXTERNAL_URL", "wss://kas.example.com")
    get_settings.cache_clear()

    kas = api.get("/metadata").json()["kas"]

    assert (kas["externalUrl"], kas["externalK8sProxyUrl"]) == ("wss://kas.example.com", None)


@pytest.mark.parametrize("path", ["/metadata", "/version"])
def test_head_answers_200_with_an_empty_body(api, path):
    response = api.request("HEAD", path)

    assert (response.status, response.text) == (200, "")
    assert response.event["httpMethod"] == "HEAD"  # its own route: API Gateway maps no HEAD to GET


# ---------------------------------------------------------------- who may read it
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/metadata", "/version"])
def test_metadata_needs_authentication(world, api, method, path):
    job = api.post("/admin/ci/jobs", json_body={"project_id": world.project()["id"], "user_id": 1}).json()

    for client, auth in (
        (ApiClient(), "private-token"),
        (ApiClient("glpat-unknown"), "private-token"),
        (ApiClient(job["token"]), "job-token"),
        (ApiClient(job["token"]), "bearer"),
    ):
        response = client.request(method, path, auth=auth)
        assert (response.status, response.json()) == (401, {"message": "401 Unauthorized"}), auth


@pytest.mark.parametrize("scopes", [["api"], ["read_api"], ["read_user"], ["ai_features"], ["k8s_proxy", "read_user"]])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_metadata_accepts_api_read_api_read_user_and_ai_features(world, scopes, method):
    person = world.user(scopes=scopes)

    assert person.client.request(method, "/metadata").status == 200


@pytest.mark.parametrize("scopes", [["k8s_proxy"], ["read_repository"], ["write_repository", "create_runner"]])
@pytest.mark.parametrize("path", ["/metadata", "/version"])
def test_metadata_refuses_other_tokens_naming_its_scopes(world, scopes, path):
    person = world.user(scopes=scopes)

    for method in ("GET", "HEAD"):
        response = person.client.request(method, path)
        assert (response.status, response.json()) == (403, insufficient(METADATA_SCOPES)), method


# ---------------------------------------------------------------- every route group's scopes
@pytest.fixture
def k8s_proxy_only(world):
    return world.user(scopes=["k8s_proxy"])


def _routes(world, api) -> list[tuple[str, str, dict | None, str]]:
    """(method, path, body, the scopes the route registers) of a route of each group."""
    project = world.project()
    group = world.group()
    agent = api.post(f"/projects/{project['id']}/cluster_agents", json_body={"name": "scoped"}).json()
    agent_path = f"/projects/{project['id']}/cluster_agents/{agent['id']}"
    token = api.post(f"{agent_path}/tokens", json_body={"name": "t"}).json()
    return [
        ("GET", f"/projects/{project['id']}/cluster_agents", None, API_SCOPES),
        ("POST", f"/projects/{project['id']}/cluster_agents", {"name": "x"}, API_SCOPES),
        ("DELETE", agent_path, None, API_SCOPES),
        ("GET", f"{agent_path}/tokens", None, API_SCOPES),
        ("GET", f"{agent_path}/tokens/{token['id']}", None, API_SCOPES),
        ("POST", f"{agent_path}/tokens", {"name": "x"}, API_SCOPES),
        ("GET", f"{agent_path}/url_configurations", None, API_SCOPES),
        ("POST", f"{agent_path}/url_configurations", {"url": "grpc://a.example.com"}, API_SCOPES),
        ("GET", f"/projects/{project['id']}", None, API_SCOPES),
        ("POST", "/projects", {"name": "x"}, API_SCOPES),
        ("GET", f"/groups/{group['id']}", None, API_SCOPES),
        ("POST", "/groups", {"name": "x", "path": "x"}, API_SCOPES),
        ("GET", f"/projects/{project['id']}/members", None, API_SCOPES),
        ("POST", f"/groups/{group['id']}/members", {"user_id": 1, "access_level": 30}, API_SCOPES),
        ("DELETE", "/personal_access_tokens/1", None, API_SCOPES),
        ("POST", "/admin/ci/jobs", {"project_id": project["id"], "user_id": 1}, API_SCOPES),
        ("GET", "/user", None, USERS_SCOPES),
        ("GET", "/users/1", None, USERS_SCOPES),
        ("POST", "/users", {"username": "x", "name": "x", "email": "x@example.com"}, USERS_SCOPES),
        ("POST", "/users/1/personal_access_tokens", {"name": "x", "scopes": ["api"]}, USERS_SCOPES),
        ("POST", "/user/personal_access_tokens", {"name": "x", "scopes": ["k8s_proxy"]}, USERS_SCOPES),
        ("GET", "/metadata", None, METADATA_SCOPES),
    ]


def test_a_token_without_an_accepted_scope_is_told_every_scope_the_route_registers(world, api, k8s_proxy_only):
    for method, path, body, scopes in _routes(world, api):
        response = k8s_proxy_only.client.request(method, path, json_body=body)
        assert (response.status, response.json()) == (403, insufficient(scopes)), (method, path)


def test_read_user_reads_users_and_nothing_else(world, api):
    reader = world.user(scopes=["read_user"])
    for method, path, body, scopes in _routes(world, api):
        response = reader.client.request(method, path, json_body=body)
        if method == "GET" and scopes != API_SCOPES:
            assert response.status == 200, (method, path, response.text)
        else:  # read_user counts only on GET and HEAD, and only where a route registers it
            assert (response.status, response.json()) == (403, insufficient(scopes)), (method, path)


def test_a_read_api_token_on_a_write_is_told_api_on_every_route_group(world, api):
    reader = world.user(scopes=["read_api"])
    for method, path, body, _ in _routes(world, api):
        response = reader.client.request(method, path, json_body=body)
        if method == "GET":  # past the scope (the reader is no member: 404 for a private project)
            assert response.status in (200, 404), (method, path, response.text)
        else:
            assert (response.status, response.json()) == (403, insufficient("api")), (method, path)


def test_the_scope_is_checked_before_anything_else_but_the_credentials(world, k8s_proxy_only):
    response = k8s_proxy_only.client.post("/projects/999999/cluster_agents", json_body={})
    assert (response.status, response.json()) == (403, insufficient(API_SCOPES))


# ---------------------------------------------------------------- the rule itself
@pytest.mark.parametrize(
    ("registered", "token", "method", "scope"),
    [
        ("GITLAB_API", ("api",), "POST", None),
        ("GITLAB_API", ("read_api",), "GET", None),
        ("GITLAB_API", ("read_api",), "HEAD", None),
        ("GITLAB_API", ("read_api",), "DELETE", "api"),
        ("GITLAB_API", ("read_user",), "GET", API_SCOPES),
        ("GITLAB_API", (), "GET", API_SCOPES),
        ("USERS", ("read_user",), "GET", None),
        ("USERS", ("read_user",), "POST", USERS_SCOPES),
        ("USERS", ("read_user", "read_api"), "POST", "api"),
        ("METADATA", ("ai_features",), "HEAD", None),
        ("METADATA", ("sudo",), "GET", METADATA_SCOPES),
        ("ANY_SCOPE", ("k8s_proxy",), "GET", None),
        ("ANY_SCOPE", (), "DELETE", None),
        ("K8S_PROXY", ("k8s_proxy",), "POST", None),
        ("K8S_PROXY", ("api",), "POST", "k8s_proxy"),
        ("K8S_PROXY", ("read_api",), "POST", "k8s_proxy"),
    ],
)
def test_route_scopes(registered, token, method, scope):
    from cluster_agents import errors
    from cluster_agents.web import auth

    rule = getattr(auth, registered)
    if scope is None:
        rule.authorize(token, method)
        return
    with pytest.raises(errors.InsufficientScope) as refused:
        rule.authorize(token, method)
    assert refused.value.scope == scope


@pytest.mark.parametrize(("given", "revision"), [("6f1e2d3c", "6f1e2d3c"), ("", "cluster-agents-api")])
def test_revision_is_the_builds_commit_id_when_it_has_one(api, monkeypatch, given, revision):
    """The stack's Revision parameter (make deploy passes git's commit id) becomes REVISION."""
    from testkit.container import reset_caches

    monkeypatch.setenv("REVISION", given)
    reset_caches()
    assert api.get("/metadata").json()["revision"] == revision
