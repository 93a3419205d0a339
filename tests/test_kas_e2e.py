"""End to end: this test plays the agent server (KAS) and a CI job against the local API server
(make serve) over HTTP - a JWT signed with PyJWT, agent info for a fresh token, the token's
``last_used_at`` seen through the token API, the agent's configuration, and a job's agents."""

from __future__ import annotations

import base64
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
import requests

from tests.conftest import E2E_ROOT_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_api")]
TIMEOUT = 20


class Kas:
    """What the agent server sends: a fresh HS256 JWT on every request."""

    def __init__(self, base_url: str, secret_base64: str) -> None:
        self.base_url = base_url
        self.secret = base64.b64decode(secret_base64)

    def headers(self, agent_token: str | None = None) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": "gitlab-kas", "aud": "gitlab", "exp": now + 5, "iat": now, "nbf": now - 5}
        headers = {"Gitlab-Kas-Api-Request": jwt.encode(claims, self.secret, algorithm="HS256")}
        if agent_token:
            headers["Gitlab-Agentk-Api-Request"] = agent_token
        return headers

    def agent_info(self, agent_token: str, path: str = "/internal/agents/agentk/agent_info") -> requests.Response:
        return requests.get(f"{self.base_url}{path}", headers=self.headers(agent_token), timeout=TIMEOUT)

    def configure(self, agent_id: int, config: dict) -> requests.Response:
        return requests.post(
            f"{self.base_url}/internal/kubernetes/agent_configuration",
            headers=self.headers(),
            json={"agent_id": agent_id, "agent_config": config},
            timeout=TIMEOUT,
        )


@pytest.fixture(scope="module")
def root(local_api) -> requests.Session:
    session = requests.Session()
    session.headers["PRIVATE-TOKEN"] = E2E_ROOT_TOKEN
    return session


@pytest.fixture(scope="module")
def kas(local_api) -> Kas:
    return Kas(local_api.base_url, local_api.kas_secret)


@pytest.fixture
def setup(local_api, root):
    """A group with a project holding an agent and one token."""
    base = local_api.base_url
    suffix = uuid.uuid4().hex[:8]
    group = root.post(f"{base}/groups", json={"name": f"Kas {suffix}", "path": f"kas-{suffix}"}, timeout=TIMEOUT)
    assert group.status_code == 201, group.text
    project = root.post(
        f"{base}/projects", json={"name": "deploy", "namespace_id": group.json()["id"]}, timeout=TIMEOUT
    ).json()
    agent = root.post(f"{base}/projects/{project['id']}/cluster_agents", json={"name": "edge"}, timeout=TIMEOUT)
    assert agent.status_code == 201, agent.text
    tokens = f"{base}/projects/{project['id']}/cluster_agents/{agent.json()['id']}/tokens"
    token = root.post(tokens, json={"name": "first"}, timeout=TIMEOUT)
    assert token.status_code == 201, token.text
    return {
        "base": base,
        "group": group.json(),
        "project": project,
        "agent": agent.json(),
        "tokens": tokens,
        "token": token.json(),
    }


def test_agent_info_then_last_used_at_through_the_token_api(setup, kas, root):
    token = setup["token"]
    assert token["last_used_at"] is None
    for path in ("/internal/agents/agentk/agent_info", "/internal/kubernetes/agent_info"):
        response = kas.agent_info(token["token"], path)
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == "application/json"
        body = response.json()
        assert (body["agent_id"], body["agent_name"], body["project_id"]) == (
            setup["agent"]["id"],
            "edge",
            setup["project"]["id"],
        )
    single = root.get(f"{setup['tokens']}/{token['id']}", timeout=TIMEOUT).json()
    assert single["last_used_at"] is not None and single["last_used_at"].endswith("Z")

    second = root.post(setup["tokens"], json={"name": "second"}, timeout=TIMEOUT).json()
    listed = root.get(setup["tokens"], timeout=TIMEOUT).json()
    assert [t["id"] for t in listed] == [token["id"], second["id"]]  # used first, never used last
    assert kas.agent_info(second["token"]).status_code == 200
    listed = root.get(setup["tokens"], timeout=TIMEOUT).json()
    assert [t["id"] for t in listed] == [second["id"], token["id"]]


def test_concurrent_agent_requests_all_succeed_and_the_recorded_use_holds(setup, kas, root):
    token = setup["token"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: kas.agent_info(token["token"]).status_code, range(24)))
    assert statuses == [200] * 24
    used = root.get(f"{setup['tokens']}/{token['id']}", timeout=TIMEOUT).json()["last_used_at"]
    assert used is not None
    assert kas.agent_info(token["token"]).status_code == 200
    assert root.get(f"{setup['tokens']}/{token['id']}", timeout=TIMEOUT).json()["last_used_at"] == used


def test_bad_credentials_as_the_agent_server_sees_them(setup, kas, root):
    base = setup["base"]
    no_jwt = requests.get(
        f"{base}/internal/kubernetes/agent_info",
        headers={"Gitlab-Agentk-Api-Request": setup["token"]["token"]},
        timeout=TIMEOUT,
    )
    assert (no_jwt.status_code, no_jwt.json()) == (401, {"message": "KAS JWT authentication invalid"})
    assert root.delete(f"{setup['tokens']}/{setup['token']['id']}", timeout=TIMEOUT).status_code == 204
    revoked = kas.agent_info(setup["token"]["token"])
    assert (revoked.status_code, revoked.json()) == (401, {"message": "401 Unauthorized"})


def test_configuration_then_a_jobs_allowed_agents(setup, kas, root):
    base, group = setup["base"], setup["group"]
    app = root.post(f"{base}/projects", json={"name": "app", "namespace_id": group["id"]}, timeout=TIMEOUT).json()
    configured = kas.configure(
        setup["agent"]["id"],
        {
            "ci_access": {
                "groups": [{"id": group["full_path"], "default_namespace": "apps", "environments": ["production"]}]
            }
        },
    )
    assert configured.status_code == 204, configured.text
    job = root.post(
        f"{base}/admin/ci/jobs",
        json={"project_id": app["id"], "user_id": 1, "environment": {"name": "production"}},
        timeout=TIMEOUT,
    )
    assert job.status_code == 201, job.text
    response = requests.get(f"{base}/job/allowed_agents", headers={"JOB-TOKEN": job.json()["token"]}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [(a["id"], a["configuration"]) for a in body["allowed_agents"]] == [
        (setup["agent"]["id"], {"environments": ["production"], "default_namespace": "apps"})
    ]
    assert body["allowed_agents"][0]["config_project"]["id"] == setup["project"]["id"]
    assert body["project"] == {"id": app["id"], "groups": [{"id": group["id"]}]}
    assert body["environment"] == {"tier": "production", "slug": "production"}
    pat = requests.get(f"{base}/job/allowed_agents", headers={"PRIVATE-TOKEN": E2E_ROOT_TOKEN}, timeout=TIMEOUT)
    assert (pat.status_code, pat.json()) == (404, {"message": "404 Job Not Found"})
