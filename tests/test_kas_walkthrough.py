"""The agent server's walk-through: this test plays GitLab's KAS against the local API server (make
serve) the way the real server does, over HTTP, for one agent from registration to its periodic
reports - agent info, the agent's configuration (ci_access and user_access), the receptive agents
list (its private key is the one whose public half the public API showed), a person's ``k8s_proxy``
token through ``authorize_proxy_user``, a CI job's agents, usage metrics, agent events and Flux's
project-access check."""

from __future__ import annotations

import base64
import uuid

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.conftest import E2E_ROOT_TOKEN
from tests.test_kas_e2e import TIMEOUT, Kas

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_api")]


def _ok(response: requests.Response, status: int) -> dict | list | None:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


def test_the_agent_server_walks_through_every_internal_route(local_api):
    base = local_api.base_url
    kas = Kas(base, local_api.kas_secret)
    root = requests.Session()
    root.headers["PRIVATE-TOKEN"] = E2E_ROOT_TOKEN
    suffix = uuid.uuid4().hex[:8]

    # A platform team: a group, the agent's configuration project, an application project.
    group = _ok(
        root.post(f"{base}/groups", json={"name": f"Walk {suffix}", "path": f"walk-{suffix}"}, timeout=TIMEOUT), 201
    )
    config = _ok(
        root.post(f"{base}/projects", json={"name": "agents", "namespace_id": group["id"]}, timeout=TIMEOUT), 201
    )
    app = _ok(root.post(f"{base}/projects", json={"name": "app", "namespace_id": group["id"]}, timeout=TIMEOUT), 201)
    agents = f"{base}/projects/{config['id']}/cluster_agents"
    agent = _ok(root.post(agents, json={"name": "prod"}, timeout=TIMEOUT), 201)
    token = _ok(root.post(f"{agents}/{agent['id']}/tokens", json={"name": "agentk"}, timeout=TIMEOUT), 201)

    # agentk connects: KAS asks who the token belongs to.
    info = _ok(kas.agent_info(token["token"]), 200)
    assert (info["agent_id"], info["agent_name"], info["project_id"]) == (agent["id"], "prod", config["id"])

    # KAS reads the agent's config.yaml and sends it on.
    agent_config = {
        "ci_access": {"groups": [{"id": group["full_path"]}]},
        "user_access": {"access_as": {"agent": {}}, "projects": [{"id": app["path_with_namespace"]}]},
    }
    _ok(kas.configure(agent["id"], agent_config), 204)

    # The agent is receptive: KAS gets its URL and the private key of the key pair the API made.
    url_configuration = _ok(
        root.post(
            f"{agents}/{agent['id']}/url_configurations", json={"url": "grpcs://agent.example.com:443"}, timeout=TIMEOUT
        ),
        201,
    )
    receptive = _ok(
        requests.get(f"{base}/internal/kubernetes/receptive_agents", headers=kas.headers(), timeout=TIMEOUT), 200
    )
    [entry] = [entry for entry in receptive["agents"] if entry["id"] == agent["id"]]
    assert list(entry) == ["id", "url", "ca_cert", "tls_host", "jwt", "mtls"]
    assert (entry["url"], entry["mtls"]) == ("grpcs://agent.example.com:443", None)
    seed = base64.b64decode(entry["jwt"]["private_key"], validate=True)
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert base64.b64encode(public).decode() == url_configuration["public_key"]

    # A developer of the application project uses the Kubernetes API proxy with a k8s_proxy token.
    alice = _ok(
        root.post(
            f"{base}/users",
            json={"username": f"alice-{suffix}", "name": "Alice", "email": f"alice-{suffix}@example.com"},
            timeout=TIMEOUT,
        ),
        201,
    )
    _ok(
        root.post(
            f"{base}/projects/{app['id']}/members", json={"user_id": alice["id"], "access_level": 30}, timeout=TIMEOUT
        ),
        201,
    )
    api_pat = _ok(
        root.post(
            f"{base}/users/{alice['id']}/personal_access_tokens",
            json={"name": "cli", "scopes": ["api"]},
            timeout=TIMEOUT,
        ),
        201,
    )
    proxy_pat = _ok(
        requests.post(
            f"{base}/user/personal_access_tokens",
            headers={"PRIVATE-TOKEN": api_pat["token"]},
            json={"name": "kubectl", "scopes": ["k8s_proxy"]},
            timeout=TIMEOUT,
        ),
        201,
    )
    authorized = _ok(
        requests.post(
            f"{base}/internal/kubernetes/authorize_proxy_user",
            headers=kas.headers(),
            json={"agent_id": agent["id"], "access_type": "personal_access_token", "access_key": proxy_pat["token"]},
            timeout=TIMEOUT,
        ),
        201,
    )
    assert authorized == {
        "agent": {"id": agent["id"], "config_project": {"id": config["id"]}},
        "user": {"id": alice["id"], "username": alice["username"]},
        "access_as": {"agent": {}},
    }
    self_view = _ok(
        requests.get(
            f"{base}/personal_access_tokens/self", headers={"PRIVATE-TOKEN": proxy_pat["token"]}, timeout=TIMEOUT
        ),
        200,
    )
    assert self_view["scopes"] == ["k8s_proxy"] and self_view["last_used_at"] is not None

    # A CI job of the application project finds the agent through the group's ci_access.
    job = _ok(root.post(f"{base}/admin/ci/jobs", json={"project_id": app["id"], "user_id": 1}, timeout=TIMEOUT), 201)
    allowed = _ok(requests.get(f"{base}/job/allowed_agents", headers={"JOB-TOKEN": job["token"]}, timeout=TIMEOUT), 200)
    assert [(a["id"], a["config_project"]["id"]) for a in allowed["allowed_agents"]] == [(agent["id"], config["id"])]

    # KAS's periodic reports.
    _ok(
        requests.post(
            f"{base}/internal/kubernetes/usage_metrics",
            headers=kas.headers(),
            json={
                "counters": {"k8s_api_proxy_request": 3},
                "unique_counters": {"k8s_api_proxy_requests_unique_users_via_user_access": [alice["id"]]},
            },
            timeout=TIMEOUT,
        ),
        204,
    )
    _ok(
        requests.post(
            f"{base}/internal/kubernetes/agent_events",
            headers=kas.headers(),
            json={
                "events": {
                    "register_agent_at_kas": [
                        {
                            "project_id": config["id"],
                            "agent_id": agent["id"],
                            "agent_version": "v18.2.0",
                            "architecture": "amd64",
                            "kubernetes_version": "v1.33.1",
                            "extra_telemetry_data": {"installation_method": "helm", "helm_chart_version": "2.16.0"},
                        }
                    ],
                    "k8s_api_proxy_requests_unique_users_via_user_access": [
                        {"user_id": alice["id"], "project_id": app["id"]}
                    ],
                }
            },
            timeout=TIMEOUT,
        ),
        204,
    )

    # Flux's push notifications: the agent's own (private) project passes, another private one does not.
    verify = f"{base}/internal/kubernetes/verify_project_access"
    _ok(
        requests.get(
            verify, params={"id": config["path_with_namespace"]}, headers=kas.headers(token["token"]), timeout=TIMEOUT
        ),
        204,
    )
    hidden = requests.get(verify, params={"id": app["id"]}, headers=kas.headers(token["token"]), timeout=TIMEOUT)
    assert (hidden.status_code, hidden.json()) == (404, {"message": "404 Not Found"})
