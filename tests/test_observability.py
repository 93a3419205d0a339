"""Operations: structured JSON logs with the request id and the caller, never a secret; CloudWatch
metrics (EMF) for tokens, limit refusals and authentication failures."""

from __future__ import annotations

import base64
import json
import logging
import sys
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from testkit.client import ApiClient, Response
from tests.conftest import KAS_SECRET, ROOT_TOKEN
from tests.faults import Fault, inject
from tests.test_kas import kas_headers, kas_jwt

URL = "grpcs://agent.example.com:4242"


class Output:
    """What the functions printed: JSON log lines and EMF metric documents."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.documents = [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [doc for doc in self.documents if "_aws" not in doc and "level" in doc]

    @property
    def metrics(self) -> list[str]:
        return [
            metric["Name"]
            for doc in self.documents
            if "_aws" in doc
            for directive in doc["_aws"]["CloudWatchMetrics"]
            for metric in directive["Metrics"]
        ]

    def request_lines(self) -> list[dict[str, Any]]:
        return [log for log in self.logs if log["message"] == "request"]


@pytest.fixture
def output(aws, capsys, monkeypatch):
    """Read everything the handlers wrote since the last read: the logger's JSON lines (at DEBUG,
    to be strict) and the metrics' EMF documents (printed to stdout)."""
    import io

    from cluster_agents.observability import logger

    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    logger.cache_clear()
    buffer = io.StringIO()
    handler = logger().registered_handler
    handler.stream = buffer  # not setStream(): it flushes the old stream, maybe a closed capsys one

    def read() -> Output:
        captured = capsys.readouterr()
        logged = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return Output(logged + captured.out + captured.err)

    read()
    yield read
    handler.stream = sys.__stdout__  # file descriptor 1, never closed (pytest captures it)
    logger.cache_clear()


def _line_of(output: Output, response: Response) -> dict[str, Any]:
    request_id = response.event["requestContext"]["requestId"]
    (line,) = [log for log in output.request_lines() if log.get("correlation_id") == request_id]
    return line


# ---------------------------------------------------------------- logs
def test_one_json_line_per_request_with_the_request_id_route_status_and_caller(api, output):
    output()
    response = api.get("/projects/root%2Fnothing/cluster_agents", params={"private_token": ROOT_TOKEN})
    line = _line_of(output(), response)
    assert response.status == 404
    assert line["level"] == "INFO" and line["service"] == "cluster-agents-api"
    assert line["correlation_id"] == response.event["requestContext"]["requestId"]
    assert (line["method"], line["route"], line["status"]) == ("GET", "/api/v4/projects/{id}/cluster_agents", 404)
    assert line["error"] == "ProjectNotFound" and line["duration_ms"] >= 0
    assert line["user_id"] == 1 and "personal_access_token_id" in line
    assert "path" not in line and "root%2Fnothing" not in json.dumps(line)  # the template, not the request


def test_caller_keys_for_jobs_and_agents_and_none_left_over_for_the_next_request(api, world, output):
    person = world.user()
    project = world.project(owner=person)
    job = api.post("/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": person.id}).json()
    agent = person.client.post(f"/projects/{project['id']}/cluster_agents", json_body={"name": "a"}).json()
    token = person.client.post(
        f"/projects/{project['id']}/cluster_agents/{agent['id']}/tokens", json_body={"name": "t"}
    ).json()
    output()
    by_job = ApiClient(job["token"]).get("/job/allowed_agents", auth="job-token")
    by_agent = ApiClient().get("/internal/kubernetes/agent_info", headers=kas_headers(token["token"]))
    anonymous = ApiClient().get("/user")
    printed = output()
    assert _line_of(printed, by_job)["job_id"] == job["id"]
    agent_line = _line_of(printed, by_agent)
    assert (agent_line["agent_id"], agent_line["agent_token_id"]) == (agent["id"], token["id"])
    anonymous_line = _line_of(printed, anonymous)
    assert anonymous_line["status"] == 401
    assert not {"user_id", "job_id", "agent_id", "agent_token_id"} & set(anonymous_line)


def _client_key_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def test_no_secret_is_ever_logged(api, world, output, caplog, monkeypatch):
    """PATs, job tokens, agent tokens, client keys, the KAS JWT and secret: in every place a client
    puts them, on successes and on failures (unknown, revoked, expired, a store error)."""
    caplog.set_level(logging.DEBUG)
    person = world.user()
    project = world.project(owner=person)
    base = f"/projects/{project['id']}/cluster_agents"
    secrets: list[str] = [ROOT_TOKEN, person.token, KAS_SECRET]

    new_pat = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "n", "scopes": ["api"]})
    secrets.append(new_pat.json()["token"])
    for client in (ApiClient(new_pat.json()["token"]),):
        (
            client.get("/user"),
            client.get("/user", auth="bearer"),
            ApiClient().get("/user", params={"private_token": new_pat.json()["token"]}),
        )
    api.delete(f"/personal_access_tokens/{new_pat.json()['id']}")
    ApiClient(new_pat.json()["token"]).get("/user")  # revoked: 401
    ApiClient("glpat-not-a-real-token-000").get("/user")
    secrets.append("glpat-not-a-real-token-000")

    agent = person.client.post(base, json_body={"name": "agent"}).json()
    made = person.client.post(f"{base}/{agent['id']}/tokens", json_body={"name": "t"}).json()
    agent_token = made["token"]
    secrets.append(agent_token)
    jwt = kas_jwt()
    secrets.append(jwt)
    for path in ("/internal/kubernetes/agent_info", "/internal/agents/agentk/agent_info"):
        ApiClient().get(path, headers={"Gitlab-Kas-Api-Request": jwt, "Authorization": f"Bearer {agent_token}"})
        ApiClient().get(path, headers={"Gitlab-Kas-Api-Request": jwt, "Gitlab-Agentk-Api-Request": agent_token})
        ApiClient().get(
            path, headers={"Gitlab-Kas-Api-Request": "forged." + jwt, "Authorization": f"Bearer {agent_token}"}
        )
    person.client.delete(f"{base}/{agent['id']}/tokens/{made['id']}")
    ApiClient().get("/internal/kubernetes/agent_info", headers=kas_headers(agent_token))  # revoked: 401

    job = api.post("/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": person.id}).json()
    secrets.append(job["token"])
    ApiClient(job["token"]).get("/job/allowed_agents", auth="job-token")
    ApiClient(job["token"]).get("/job/allowed_agents", auth="bearer")
    ApiClient().get("/job/allowed_agents", params={"job_token": job["token"]})
    ApiClient().put(f"/jobs/{job['id']}", json_body={"state": "success", "token": job["token"]})
    ApiClient(job["token"]).get("/job/allowed_agents", auth="job-token")  # finished: 401

    pem = _client_key_pem()
    client_key = base64.b64encode(pem).decode()
    secrets += [client_key, pem.decode().splitlines()[1]]
    person.client.post(
        f"{base}/{agent['id']}/url_configurations",
        json_body={"url": URL, "client_key": client_key, "client_cert": "bm90IGEgY2VydA=="},
    )  # 400: bad certificate
    person.client.post(f"{base}/{agent['id']}/url_configurations", json_body={"url": URL})

    with inject("dynamodb", Fault("*", "ValidationException", times=100)):  # an unexpected error, logged
        assert person.client.get("/user").status == 500
        assert ApiClient().get("/user", params={"private_token": person.token}).status == 500
    printed = output().text + "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert "unexpected error" in printed and '"message":"request"' in printed.replace(" ", "")
    leaked = [secret for secret in secrets if secret in printed]
    assert leaked == []


# ---------------------------------------------------------------- metrics
def test_metrics_for_tokens_limits_and_authentication_failures(api, world, output):
    person = world.user()
    project = world.project(owner=person)
    base = f"/projects/{project['id']}/cluster_agents"
    agent = person.client.post(base, json_body={"name": "agent"}).json()
    tokens = f"{base}/{agent['id']}/tokens"
    output()

    first = person.client.post(tokens, json_body={"name": "one"}).json()
    person.client.post(tokens, json_body={"name": "two"})
    assert person.client.post(tokens, json_body={"name": "three"}).status == 400
    person.client.delete(f"{tokens}/{first['id']}")
    configurations = f"{base}/{agent['id']}/url_configurations"
    person.client.post(configurations, json_body={"url": URL})
    assert person.client.post(configurations, json_body={"url": URL}).status == 400
    pat = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "n", "scopes": ["api"]}).json()
    api.delete(f"/personal_access_tokens/{pat['id']}")
    ApiClient("glpat-unknown-token-0000000").get("/user")
    ApiClient(pat["token"]).get("/user")
    ApiClient().get("/internal/kubernetes/agent_info", headers={"Gitlab-Kas-Api-Request": "not-a-jwt"})
    world.user(scopes=["read_api"]).client.post("/projects", json_body={"name": "x"})
    with inject("dynamodb", Fault("GetItem", "ThrottlingException", times=100)):
        person.client.get("/user")

    metrics = output().metrics
    assert metrics.count("AgentTokensCreated") == 2 and metrics.count("AgentTokensRevoked") == 1
    assert metrics.count("AgentTokenLimitRefused") == 1
    assert metrics.count("UrlConfigurationsCreated") == 1 and metrics.count("UrlConfigurationLimitRefused") == 1
    assert metrics.count("PersonalAccessTokensCreated") >= 1 and metrics.count("PersonalAccessTokensRevoked") == 1
    assert metrics.count("AuthenticationFailed") == 2 and metrics.count("KasAuthenticationFailed") == 1
    assert metrics.count("InsufficientScopeRefused") == 1 and metrics.count("StoreBusy") == 1


def test_metrics_are_emf_in_the_templates_namespace(api, world, output):
    from devtools.template import load_template

    output()
    ApiClient().get("/user")
    (document,) = [doc for doc in output().documents if "_aws" in doc]
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    namespace = load_template()["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert directive["Namespace"] == namespace
    assert directive["Dimensions"] == [["service"]] and document["service"] == "cluster-agents-api"
    assert directive["Metrics"] == [{"Name": "AuthenticationFailed", "Unit": "Count"}]
    assert document["AuthenticationFailed"] == [1.0]
