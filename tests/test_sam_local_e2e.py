"""End to end through `sam local start-api` (the functions in Lambda containers, on a local AWS):
python-gitlab makes a project, an agent and its tokens, a URL configuration; the agent server (a
fresh JWT) configures the agent and asks for its info; a CI job (its job token) lists its agents.

Run by `make test-sam-local` (devtools/sam_local.py), which sets SAM_LOCAL_URL; skipped otherwise.
Projects go by numeric id: SAM's local server decodes %2F before routing (API Gateway does not)."""

from __future__ import annotations

import os
import uuid

import pytest
import requests

from devtools.sam_events import kas_jwt

BASE = os.environ.get("SAM_LOCAL_URL", "")
ROOT_TOKEN = os.environ.get("SAM_LOCAL_ROOT_TOKEN", "")
KAS_SECRET = os.environ.get("SAM_LOCAL_KAS_SECRET", "")
TIMEOUT = 60  # a cold start of a function's container takes a few seconds

pytestmark = pytest.mark.skipif(not BASE, reason="needs sam local start-api (make test-sam-local)")


@pytest.fixture(scope="module")
def gl():
    import gitlab

    client = gitlab.Gitlab(BASE, private_token=ROOT_TOKEN, timeout=TIMEOUT)
    client.auth()
    return client


@pytest.fixture(scope="module")
def setup(gl):
    project = gl.projects.create({"name": f"sam-{uuid.uuid4().hex[:8]}"})
    agent = project.cluster_agents.create({"name": "edge"})
    return project, agent


def kas_headers(agent_token: str | None = None) -> dict[str, str]:
    headers = {"Gitlab-Kas-Api-Request": kas_jwt(KAS_SECRET)}
    if agent_token:
        headers["Gitlab-Agentk-Api-Request"] = agent_token
    return headers


def test_project_and_agent(gl, setup):
    project, agent = setup
    assert gl.user.username == "root"
    assert agent.config_project["path_with_namespace"] == project.path_with_namespace
    assert [a.name for a in project.cluster_agents.list(get_all=True)] == ["edge"]
    assert project.cluster_agents.get(agent.id).name == "edge"


def test_agent_tokens(gl, setup):
    project, agent = setup
    path = f"/projects/{project.id}/cluster_agents/{agent.id}/tokens"
    first = gl.http_post(path, post_data={"name": "first"})
    assert first["token"].startswith("glagent-")
    assert [token["id"] for token in gl.http_list(path, get_all=True)] == [first["id"]]
    gl.http_delete(f"{path}/{first['id']}")
    assert gl.http_list(path, get_all=True) == []


def test_url_configuration(gl):
    project = gl.projects.create({"name": f"sam-receptive-{uuid.uuid4().hex[:8]}"})
    agent = project.cluster_agents.create({"name": "receptive"})
    path = f"/projects/{project.id}/cluster_agents/{agent.id}/url_configurations"
    created = gl.http_post(path, post_data={"url": "grpcs://agent.example.com:4242"})
    assert created["agent_id"] == agent.id and "private_key" not in created
    assert gl.http_get(f"{path}/{created['id']}") == created
    gl.http_delete(f"{path}/{created['id']}")
    assert gl.http_list(path, get_all=True) == []


def test_agent_server_and_a_jobs_allowed_agents(gl, setup):
    project, agent = setup
    token = gl.http_post(f"/projects/{project.id}/cluster_agents/{agent.id}/tokens", post_data={"name": "kas"})
    info = requests.get(
        f"{BASE}/api/v4/internal/agents/agentk/agent_info", headers=kas_headers(token["token"]), timeout=TIMEOUT
    )
    assert info.status_code == 200, info.text
    assert (info.json()["agent_id"], info.json()["agent_name"]) == (agent.id, "edge")

    config = {"ci_access": {"projects": [{"id": project.path_with_namespace, "default_namespace": "app"}]}}
    configured = requests.post(
        f"{BASE}/api/v4/internal/kubernetes/agent_configuration",
        headers=kas_headers(),
        json={"agent_id": agent.id, "agent_config": config},
        timeout=TIMEOUT,
    )
    assert configured.status_code == 204, configured.text

    job = gl.http_post("/admin/ci/jobs", post_data={"project_id": project.id, "user_id": gl.user.id})
    allowed = requests.get(f"{BASE}/api/v4/job/allowed_agents", headers={"JOB-TOKEN": job["token"]}, timeout=TIMEOUT)
    assert allowed.status_code == 200, allowed.text
    assert [a["id"] for a in allowed.json()["allowed_agents"]] == [agent.id]
    assert allowed.json()["allowed_agents"][0]["configuration"] == {"default_namespace": "app"}
    stale = requests.get(
        f"{BASE}/api/v4/internal/agents/agentk/agent_info",
        timeout=TIMEOUT,
        headers={"Gitlab-Kas-Api-Request": "not-a-jwt", "Gitlab-Agentk-Api-Request": token["token"]},
    )
    assert stale.status_code == 401


def test_the_docs_page_and_swagger_ui_come_from_the_built_function():
    """`sam build` packages Swagger UI with the docs function (functions/docs/swagger_ui/)."""
    from devtools import swagger_ui

    page = requests.get(f"{BASE}/api/v4/docs", timeout=TIMEOUT)
    assert page.status_code == 200, page.text
    assert f"docs/assets/swagger-ui-bundle.js?v={swagger_ui.VERSION}" in page.text
    for name, media_type in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")):
        asset = requests.get(f"{BASE}/api/v4/docs/assets/{name}", timeout=TIMEOUT)
        assert asset.status_code == 200, (name, asset.text[:200])
        assert asset.headers["Content-Type"].startswith(media_type)
        assert asset.content == (swagger_ui.DESTINATION / name).read_bytes()
    assert requests.get(f"{BASE}/api/v4/docs/assets/LICENSE", timeout=TIMEOUT).status_code == 404
