"""End to end: python-gitlab and plain HTTP against the local API server (make serve)."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.conftest import E2E_ROOT_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_api")]


@pytest.fixture(scope="module")
def gl(local_api):
    import gitlab

    client = gitlab.Gitlab(local_api.url, private_token=E2E_ROOT_TOKEN, retry_transient_errors=True)
    client.auth()
    return client


def test_version_and_the_three_credential_forms(local_api):
    base = local_api.base_url
    assert requests.get(f"{base}/version", timeout=10).status_code == 401
    assert requests.get(f"{base}/version", headers={"PRIVATE-TOKEN": E2E_ROOT_TOKEN}, timeout=10).status_code == 200
    for kwargs in (
        {"headers": {"PRIVATE-TOKEN": E2E_ROOT_TOKEN}},
        {"headers": {"Authorization": f"Bearer {E2E_ROOT_TOKEN}"}},
        {"params": {"private_token": E2E_ROOT_TOKEN}},
    ):
        response = requests.get(f"{base}/user", timeout=10, **kwargs)
        assert response.status_code == 200, kwargs
        assert response.json()["username"] == "root"


def test_python_gitlab_reads_the_version_authenticated(gl, local_api):
    """``gl.version()`` sends its token to GET /version, which needs one (SPEC §5)."""
    version, revision = gl.version()
    assert tuple(int(part) for part in version.split(".")) >= (17, 11, 0)
    assert revision not in ("", "unknown")
    response = requests.head(f"{local_api.base_url}/metadata", headers={"PRIVATE-TOKEN": E2E_ROOT_TOKEN}, timeout=10)
    assert (response.status_code, response.content) == (200, b"")
    assert requests.head(f"{local_api.base_url}/metadata", timeout=10).status_code == 401


def test_a_user_creates_a_k8s_proxy_token_for_themselves(gl, local_api):
    made = gl.http_post("/user/personal_access_tokens", post_data={"name": "kubectl", "scopes": ["k8s_proxy"]})
    response = requests.get(
        f"{local_api.base_url}/personal_access_tokens/self", timeout=10, headers={"PRIVATE-TOKEN": made["token"]}
    )
    assert response.status_code == 200
    assert response.json() == {key: value for key, value in made.items() if key != "token"}
    refused = requests.get(f"{local_api.base_url}/user", timeout=10, headers={"PRIVATE-TOKEN": made["token"]})
    assert (refused.status_code, refused.json()["scope"]) == (403, "read_user api read_api")


def test_python_gitlab_builds_a_world(gl, local_api):
    suffix = uuid.uuid4().hex[:8]
    assert gl.user.username == "root"
    alice = gl.users.create(
        {
            "username": f"alice_{suffix}",
            "name": "Alice",
            "email": f"a{suffix}@example.com",
            "password": "ignored-password",
            "skip_confirmation": True,
        }
    )
    bob = gl.users.create({"username": f"bob.{suffix}", "name": "Bob", "email": f"b{suffix}@example.com"})
    group = gl.groups.create({"name": f"Platform {suffix}", "path": f"platform-{suffix}"})
    subgroup = gl.groups.create({"name": "Clusters", "path": "clusters", "parent_id": group.id})
    project = gl.projects.create({"name": "infra", "namespace_id": subgroup.id, "visibility": "private"})
    assert project.path_with_namespace == f"platform-{suffix}/clusters/infra"
    project.members.create({"user_id": alice.id, "access_level": 30})
    group.members.create({"user_id": bob.id, "access_level": 40})
    assert {m.username for m in project.members.list(get_all=True)} == {alice.username}
    assert gl.projects.get(f"platform-{suffix}/clusters/infra").id == project.id

    token = gl.http_post(f"/users/{alice.id}/personal_access_tokens", post_data={"name": "ro", "scopes": ["read_api"]})
    reader = requests.Session()
    reader.headers["PRIVATE-TOKEN"] = token["token"]
    assert reader.get(f"{local_api.base_url}/projects/{project.id}", timeout=10).status_code == 200
    assert reader.post(f"{local_api.base_url}/projects", json={"name": "x"}, timeout=10).status_code == 403

    outsider = gl.users.create({"username": f"carol-{suffix}", "name": "Carol", "email": f"c{suffix}@example.com"})
    outsider_token = gl.http_post(
        f"/users/{outsider.id}/personal_access_tokens", post_data={"name": "t", "scopes": ["api"]}
    )["token"]
    response = requests.get(
        f"{local_api.base_url}/projects/{project.id}", timeout=10, headers={"PRIVATE-TOKEN": outsider_token}
    )
    assert (response.status_code, response.json()) == (404, {"message": "404 Project Not Found"})


def test_body_size_limit_over_http(local_api):
    """SPEC §1.4 through the local gateway (whose own limit is API Gateway's 10 MB): 5 MiB is
    processed (here: the usual 400 of a too-long group path), one byte more is 413 whatever the
    credentials."""
    limit = 5 * 1024 * 1024
    base = {"name": "g", "path": "", "description": ""}
    path = "p" * (limit - len(requests.models.complexjson.dumps(base)))
    headers = {"PRIVATE-TOKEN": E2E_ROOT_TOKEN, "Content-Type": "application/json"}
    body = requests.models.complexjson.dumps({**base, "path": path}).encode()
    assert len(body) == limit
    response = requests.post(f"{local_api.base_url}/groups", data=body, headers=headers, timeout=30)
    assert response.status_code == 400, response.text
    for credentials in ({"PRIVATE-TOKEN": E2E_ROOT_TOKEN}, {"PRIVATE-TOKEN": "glpat-unknown"}, {}):
        response = requests.post(
            f"{local_api.base_url}/groups",
            data=body + b" ",
            timeout=30,
            headers={**credentials, "Content-Type": "application/json"},
        )
        assert (response.status_code, response.json()) == (413, {"message": "413 Request Entity Too Large"})
