"""The agent server's internal API (SPEC §7): the KAS JWT, agent tokens, agent info, the
throttled ``last_used_at``, and agent configuration (ci_access)."""

from __future__ import annotations

import base64
import importlib
import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest

from testkit.client import ApiClient
from testkit.kas import kas_headers, kas_jwt
from tests.conftest import KAS_SECRET

AGENT_INFO_PATHS = ("/internal/kubernetes/agent_info", "/internal/agents/agentk/agent_info")
CONFIGURATION_PATH = "/internal/kubernetes/agent_configuration"
KAS_INVALID = {"message": "KAS JWT authentication invalid"}
UNAUTHORIZED = {"message": "401 Unauthorized"}
EVENTS = Path(__file__).resolve().parent.parent / "events"


# ---------------------------------------------------------------- helpers (also used by test_allowed_agents)
def configure(agent_id: int, agent_config: Any, headers: dict[str, str] | None = None):
    return ApiClient().post(
        CONFIGURATION_PATH,
        json_body={"agent_id": agent_id, "agent_config": agent_config},
        headers=kas_headers() if headers is None else headers,
    )


def create_agent(client: ApiClient, project_id: int, name: str = "agent") -> dict:
    made = client.post(f"/projects/{project_id}/cluster_agents", json_body={"name": name})
    assert made.status == 201, made.text
    return made.json()


def create_token(client: ApiClient, project_id: int, agent_id: int, name: str = "token") -> dict:
    made = client.post(f"/projects/{project_id}/cluster_agents/{agent_id}/tokens", json_body={"name": name})
    assert made.status == 201, made.text
    return made.json()


def agent_info(token: str | None, path: str = AGENT_INFO_PATHS[0], header: str = "Authorization"):
    return ApiClient().get(path, headers=kas_headers(token, header))


@pytest.fixture
def agent(world, api):
    """An agent with one token, in a project of a subgroup: (project, agent, token)."""
    group = world.group("platform")
    subgroup = world.group("clusters", parent_id=group["id"])
    project = world.project("infra", namespace_id=subgroup["id"])
    made = create_agent(api, project["id"], "prod-cluster")
    return project, made, create_token(api, project["id"], made["id"])


# ---------------------------------------------------------------- agent info
@pytest.mark.parametrize("path", AGENT_INFO_PATHS)
def test_agent_info_for_an_active_token(agent, path):
    project, made, token = agent
    response = agent_info(token["token"], path)
    assert response.status == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["project_id", "agent_id", "agent_name", "gitaly_info", "gitaly_repository", "default_branch"]
    assert (body["project_id"], body["agent_id"], body["agent_name"]) == (project["id"], made["id"], "prod-cluster")
    assert body["default_branch"] == "main"
    assert list(body["gitaly_info"]) == ["address", "token", "features"]
    assert body["gitaly_info"]["address"].endswith(".socket")
    repository = body["gitaly_repository"]
    assert list(repository) == [
        "storage_name",
        "relative_path",
        "git_object_directory",
        "git_alternate_object_directories",
        "gl_repository",
        "gl_project_path",
    ]
    assert repository["gl_repository"] == f"project-{project['id']}"
    assert repository["gl_project_path"] == "platform/clusters/infra"
    assert repository["relative_path"].startswith("@hashed/") and repository["relative_path"].endswith(".git")


@pytest.mark.parametrize("header", ["Authorization", "Gitlab-Agentk-Api-Request", "Gitlab-Agent-Api-Request"])
def test_agent_token_in_each_header(agent, header):
    assert agent_info(agent[2]["token"], header=header).status == 200


def test_header_names_are_case_insensitive(agent):
    headers = {"gitlab-kas-api-request": kas_jwt(), "gitlab-agentk-api-request": agent[2]["token"]}
    assert ApiClient().get(AGENT_INFO_PATHS[1], headers=headers).status == 200


def _with_token_headers(**headers: str) -> dict[str, str]:
    return {"Gitlab-Kas-Api-Request": kas_jwt(), **{name.replace("_", "-"): value for name, value in headers.items()}}


def test_a_present_agentk_header_decides_alone_even_empty_or_wrong(agent):
    """GitLab's auth_finders.rb: Gitlab-Agentk-Api-Request when present, whatever it holds."""
    good = agent[2]["token"]
    for value in ("", "   ", "glagent-wrong"):
        for other in (
            {"Gitlab_Agent_Api_Request": good},
            {"Authorization": f"Bearer {good}"},
            {"Gitlab_Agent_Api_Request": good, "Authorization": f"Bearer {good}"},
        ):
            headers = _with_token_headers(Gitlab_Agentk_Api_Request=value, **other)
            response = ApiClient().get(AGENT_INFO_PATHS[0], headers=headers)
            assert (response.status, response.json()) == (401, UNAUTHORIZED), (value, other)
    headers = _with_token_headers(
        Gitlab_Agentk_Api_Request=good, Gitlab_Agent_Api_Request="glagent-wrong", Authorization="Bearer glagent-wrong"
    )
    assert ApiClient().get(AGENT_INFO_PATHS[1], headers=headers).status == 200


def test_the_agent_header_decides_only_when_the_agentk_header_is_absent(agent):
    good = agent[2]["token"]
    for value in ("", "glagent-wrong"):
        headers = _with_token_headers(Gitlab_Agent_Api_Request=value, Authorization=f"Bearer {good}")
        response = ApiClient().get(AGENT_INFO_PATHS[0], headers=headers)
        assert (response.status, response.json()) == (401, UNAUTHORIZED), value
    headers = _with_token_headers(Gitlab_Agent_Api_Request=good, Authorization="Bearer glagent-wrong")
    assert ApiClient().get(AGENT_INFO_PATHS[0], headers=headers).status == 200


def test_authorization_is_read_only_when_neither_agent_header_is_present(agent):
    good = agent[2]["token"]
    for authorization in (f"Bearer {good}", f"Token {good}", f"bearer   {good}"):
        assert (
            ApiClient().get(AGENT_INFO_PATHS[0], headers=_with_token_headers(Authorization=authorization)).status == 200
        ), authorization
    response = ApiClient().get(AGENT_INFO_PATHS[0], headers=_with_token_headers(Authorization="Bearer glagent-no"))
    assert (response.status, response.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize("path", AGENT_INFO_PATHS)
def test_missing_or_unknown_agent_token_is_401(agent, path):
    for token in (None, "glagent-" + "x" * 50, ""):
        response = agent_info(token, path)
        assert (response.status, response.json()) == (401, UNAUTHORIZED), token
    response = ApiClient().get(path, headers={**kas_headers(), "Authorization": "Basic Zm9vOmJhcg=="})
    assert (response.status, response.json()) == (401, UNAUTHORIZED)


def test_revoked_token_is_401_and_the_other_token_still_works(agent, api):
    project, made, token = agent
    other = create_token(api, project["id"], made["id"], "second")
    assert api.delete(f"/projects/{project['id']}/cluster_agents/{made['id']}/tokens/{token['id']}").status == 204
    response = agent_info(token["token"])
    assert (response.status, response.json()) == (401, UNAUTHORIZED)
    assert agent_info(other["token"]).status == 200


def test_token_of_a_deleted_agent_is_401(agent, api):
    project, made, token = agent
    assert agent_info(token["token"]).status == 200
    assert api.delete(f"/projects/{project['id']}/cluster_agents/{made['id']}").status == 204
    for path in AGENT_INFO_PATHS:
        response = agent_info(token["token"], path)
        assert (response.status, response.json()) == (401, UNAUTHORIZED)


# ---------------------------------------------------------------- the KAS JWT
def _now() -> int:
    return int(time.time())


BAD_JWTS = {
    "wrong secret": lambda: kas_jwt(secret=b"x" * 32),
    "alg none": lambda: jwt.encode({"iss": "gitlab-kas", "aud": "gitlab", "exp": _now() + 5}, None, algorithm="none"),
    "HS512 with the right secret": lambda: kas_jwt(algorithm="HS512"),
    "HS384 with the right secret": lambda: kas_jwt(algorithm="HS384"),
    "wrong issuer": lambda: kas_jwt(iss="gitlab"),
    "no issuer": lambda: kas_jwt(iss=None),
    "wrong audience": lambda: kas_jwt(aud="gitlab-kas"),
    "no audience": lambda: kas_jwt(aud=None),
    "expired": lambda: kas_jwt(exp=_now() - 30, nbf=_now() - 60),
    "no expiry": lambda: kas_jwt(exp=None),
    "valid for an hour": lambda: kas_jwt(exp=_now() + 3600),
    "not yet valid": lambda: kas_jwt(nbf=_now() + 60),
    "garbage": lambda: "not-a-jwt",
    "empty": lambda: "",
    "signature stripped": lambda: kas_jwt().rsplit(".", 1)[0] + ".",
}


def _rs256_jwt() -> str:
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode({"iss": "gitlab-kas", "aud": "gitlab", "exp": _now() + 5}, key, algorithm="RS256")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_bad_kas_jwt_is_401_on_every_route(agent):
    cases = {**{case: make() for case, make in BAD_JWTS.items()}, "RS256": _rs256_jwt()}
    for case, token in cases.items():
        headers = {"Gitlab-Kas-Api-Request": token, "Authorization": f"Bearer {agent[2]['token']}"}
        for path in AGENT_INFO_PATHS:
            response = ApiClient().get(path, headers=headers)
            assert (response.status, response.json()) == (401, KAS_INVALID), (case, path)
        response = configure(agent[1]["id"], {}, headers={"Gitlab-Kas-Api-Request": token})
        assert (response.status, response.json()) == (401, KAS_INVALID), case
    assert agent_info(agent[2]["token"]).status == 200  # and the same request with a good JWT passes


def test_missing_kas_jwt_is_checked_before_the_agent_token_and_the_parameters(agent):
    for path in AGENT_INFO_PATHS:
        response = ApiClient().get(path, headers={"Authorization": f"Bearer {agent[2]['token']}"})
        assert (response.status, response.json()) == (401, KAS_INVALID)
    response = ApiClient().post(CONFIGURATION_PATH)
    assert (response.status, response.json()) == (401, KAS_INVALID)


def test_jwt_within_the_clock_skew_leeway_and_a_list_audience_pass(agent):
    for token in (kas_jwt(exp=_now() - 2, nbf=_now() - 10), kas_jwt(aud=["gitlab"]), kas_jwt(iat=_now() + 3)):
        headers = {"Gitlab-Kas-Api-Request": token, "Authorization": f"Bearer {agent[2]['token']}"}
        assert ApiClient().get(AGENT_INFO_PATHS[0], headers=headers).status == 200


def test_kas_secret_from_secrets_manager_is_read_once(agent, monkeypatch):
    import boto3

    from testkit.container import reset_caches
    from testkit.counter import RoundTrips

    other_secret = b"s" * 32
    arn = boto3.client("secretsmanager").create_secret(
        Name="kas", SecretString=base64.b64encode(other_secret).decode().rstrip("=")
    )["ARN"]
    monkeypatch.delenv("KAS_SECRET")
    monkeypatch.setenv("KAS_SECRET_ARN", arn)
    reset_caches()
    token = agent[2]["token"]
    with RoundTrips(capacity=False).measure() as calls:
        for _ in range(3):
            headers = {"Gitlab-Kas-Api-Request": kas_jwt(secret=other_secret), "Authorization": f"Bearer {token}"}
            assert ApiClient().get(AGENT_INFO_PATHS[0], headers=headers).status == 200
    assert calls.operations()["secretsmanager:GetSecretValue"] == 1
    headers = {"Gitlab-Kas-Api-Request": kas_jwt(), "Authorization": f"Bearer {token}"}
    assert ApiClient().get(AGENT_INFO_PATHS[0], headers=headers).json() == KAS_INVALID


def test_secret_text_is_decoded_as_gitlab_writes_it():
    from cluster_agents.agent_server_jwt import KasSecretMisconfigured, decode_secret

    raw = bytes(range(32))
    assert decode_secret(base64.b64encode(raw).decode() + "\n") == raw
    assert decode_secret(base64.b64encode(raw).decode().rstrip("=")) == raw
    with pytest.raises(KasSecretMisconfigured):
        decode_secret("not base64!")
    with pytest.raises(KasSecretMisconfigured):
        decode_secret("")


# ---------------------------------------------------------------- last_used_at
def _token_path(project: dict, made: dict, token: dict) -> str:
    return f"/projects/{project['id']}/cluster_agents/{made['id']}/tokens/{token['id']}"


def test_first_use_is_visible_at_once_on_the_token(agent, api):
    project, made, token = agent
    assert api.get(_token_path(project, made, token)).json()["last_used_at"] is None
    before = _iso_now()
    assert agent_info(token["token"]).status == 200
    used = api.get(_token_path(project, made, token)).json()["last_used_at"]
    assert used is not None and used >= before
    assert len(used) == 24 and used.endswith("Z") and used[19] == "."  # 2022-04-20T20:42:40.221Z


def _iso_now() -> str:
    from cluster_agents import clock

    return clock.iso(clock.now() - timedelta(milliseconds=1))


def test_token_list_is_ordered_by_last_use(agent, api, monkeypatch):
    from cluster_agents import clock

    project, made, first = agent
    second = create_token(api, project["id"], made["id"], "second")
    listing = f"/projects/{project['id']}/cluster_agents/{made['id']}/tokens"

    def order() -> list[int]:
        body = api.get(listing).json()
        assert all("last_used_at" not in token for token in body)
        return [token["id"] for token in body]

    assert order() == [first["id"], second["id"]]  # never used: by id
    assert agent_info(second["token"]).status == 200
    assert order() == [second["id"], first["id"]]  # used before never used
    time.sleep(0.002)
    assert agent_info(first["token"]).status == 200  # its first use: written at once
    assert order() == [first["id"], second["id"]]
    later = clock.now() + timedelta(minutes=2)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert agent_info(second["token"], AGENT_INFO_PATHS[1]).status == 200  # a minute on: written again
    assert order() == [second["id"], first["id"]]
    assert api.get(_token_path(project, made, second)).json()["last_used_at"] == clock.iso(later)


def _count_updates() -> list[dict]:
    from cluster_agents.aws import client

    seen: list[dict] = []
    client("dynamodb").meta.events.register("before-call.dynamodb.UpdateItem", lambda params, **_: seen.append(params))
    return seen


def test_use_is_written_at_most_once_a_minute(agent, api, monkeypatch):
    from cluster_agents import clock

    project, made, token = agent
    # The clock stands still while the token is used twenty times: on a loaded machine (make test
    # runs two xdist workers beside the local API's worker processes on two CPUs) twenty requests
    # can take longer than the 60-second window, and a second write would then be right.
    frozen = clock.now()
    monkeypatch.setattr(clock, "now", lambda: frozen)
    updates = _count_updates()
    for path in AGENT_INFO_PATHS * 10:
        assert agent_info(token["token"], path).status == 200
    assert len(updates) == 1, "twenty uses, one write"
    first = api.get(_token_path(project, made, token)).json()["last_used_at"]
    assert first == clock.iso(frozen)

    start = clock.parse_iso(first)  # the window runs from the stored use
    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=59))
    assert agent_info(token["token"]).status == 200
    assert len(updates) == 1
    assert api.get(_token_path(project, made, token)).json()["last_used_at"] == first

    monkeypatch.setattr(clock, "now", lambda: start + timedelta(seconds=61))
    assert agent_info(token["token"]).status == 200
    assert len(updates) == 2
    assert api.get(_token_path(project, made, token)).json()["last_used_at"] == clock.iso(start + timedelta(seconds=61))


def test_a_stale_reader_never_moves_last_used_at_back_nor_writes_twice(agent):
    """Two containers read the token before either wrote: only the first write lands."""
    from cluster_agents import clock
    from cluster_agents.crypto import digest
    from cluster_agents.store.agent_tokens import agent_tokens

    usage = agent_tokens()
    seen_by_a = usage.find_active_by_digest(digest(agent[2]["token"]))
    seen_by_b = usage.find_active_by_digest(digest(agent[2]["token"]))
    assert seen_by_a.last_used_at is None and seen_by_b.last_used_at is None
    now = clock.now()
    assert usage.record_use(seen_by_a, now) is True
    assert usage.record_use(seen_by_b, now - timedelta(seconds=1)) is False  # older: not written
    assert usage.record_use(seen_by_b, now + timedelta(seconds=30)) is False  # within the window
    assert usage.find_active_by_digest(digest(agent[2]["token"])).last_used_at == clock.iso(now)


def test_recording_a_use_never_recreates_a_revoked_token(agent, api, aws):
    import boto3
    from cluster_agents.crypto import digest
    from cluster_agents.store.agent_tokens import agent_tokens

    project, made, token = agent
    found = agent_tokens().find_active_by_digest(digest(token["token"]))
    assert api.delete(_token_path(project, made, token)).status == 204
    assert agent_tokens().record_use(found) is False
    items = boto3.client("dynamodb").query(
        TableName=aws.refs["AgentsTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"AGENT#{made['id']}"}},
    )["Items"]
    assert [item["sk"]["S"] for item in items if item["sk"]["S"].startswith("AT#")] == []


def test_a_throttled_usage_write_does_not_fail_the_agent(agent, monkeypatch):
    from cluster_agents.errors import StoreBusy
    from cluster_agents.store.agent_tokens import AgentTokenRepository

    def throttled(self, token, now=None):
        raise StoreBusy(throttled=True)

    monkeypatch.setattr(AgentTokenRepository, "record_use", throttled)
    assert agent_info(agent[2]["token"]).status == 200


# ---------------------------------------------------------------- agent configuration
def _ci_access_of(agent_id: int) -> dict:
    """The agent's stored authorisations, ``{(kind, id): configuration}`` (from its mirrors)."""
    from cluster_agents.store.ci_access import ci_access

    read = ci_access().read_agent(agent_id)
    assert read is not None, f"agent {agent_id} is gone"
    return {source: json.loads(configuration) for source, configuration in read.current.items()}


@pytest.fixture
def estate(world, api):
    """Groups and projects under one top-level group, another top-level group, and an agent."""
    root = world.group("acme")
    team = world.group("team", parent_id=root["id"])
    other_root = world.group("other")
    config = world.project("kube-config", namespace_id=root["id"])
    app = world.project("app", namespace_id=team["id"])
    outsider = world.project("outsider", namespace_id=other_root["id"])
    made = create_agent(api, config["id"], "main")
    return {
        "root": root,
        "team": team,
        "other_root": other_root,
        "config": config,
        "app": app,
        "outsider": outsider,
        "agent": made,
    }


def test_configuration_stores_the_authorisations_under_the_agents_top_level_group(estate):
    agent_id = estate["agent"]["id"]
    response = configure(
        agent_id,
        {
            "gitops": {"manifest_projects": [{"id": "acme/app"}]},
            "ci_access": {
                "projects": [
                    {"id": "ACME/Team/App", "default_namespace": "staging", "access_as": {"agent": {}}},
                    {"id": "other/outsider"},
                    {"id": "acme/missing"},
                    {"id": "acme/kube-config"},
                ],
                "groups": [
                    {"id": "acme/team", "environments": ["production", "review/*"]},
                    {"id": "other"},
                    {"id": "acme"},
                ],
            },
        },
    )
    assert (response.status, response.text) == (204, "")
    assert _ci_access_of(agent_id) == {
        ("project", estate["app"]["id"]): {"access_as": {"agent": {}}, "default_namespace": "staging"},
        ("project", estate["config"]["id"]): {},
        ("group", estate["team"]["id"]): {"environments": ["production", "review/*"]},
        ("group", estate["root"]["id"]): {},
    }


def test_configuration_replaces_what_was_there(estate):
    agent_id = estate["agent"]["id"]
    assert (
        configure(agent_id, {"ci_access": {"projects": [{"id": "acme/team/app"}], "groups": [{"id": "acme"}]}}).status
        == 204
    )
    assert (
        configure(agent_id, {"ci_access": {"groups": [{"id": "acme/team", "protected_branches_only": True}]}}).status
        == 204
    )
    assert _ci_access_of(agent_id) == {("group", estate["team"]["id"]): {"protected_branches_only": True}}
    assert configure(agent_id, {}).status == 204
    assert _ci_access_of(agent_id) == {}


def test_configuration_as_a_json_string_and_form_parameters(estate):
    agent_id = estate["agent"]["id"]
    text = json.dumps({"ci_access": {"projects": [{"id": "acme/team/app"}]}})
    response = ApiClient().post(
        CONFIGURATION_PATH, data={"agent_id": str(agent_id), "agent_config": text}, headers=kas_headers()
    )
    assert response.status == 204
    assert list(_ci_access_of(agent_id)) == [("project", estate["app"]["id"])]


def test_configuration_parameters(estate):
    response = ApiClient().post(CONFIGURATION_PATH, json_body={}, headers=kas_headers())
    assert (response.status, response.json()) == (400, {"error": "agent_id is missing, agent_config is missing"})
    response = configure("abc", {})
    assert (response.status, response.json()) == (400, {"error": "agent_id is invalid"})
    response = configure(True, {})
    assert (response.status, response.json()) == (400, {"error": "agent_id is invalid"})
    response = configure(estate["agent"]["id"], "{not json")
    assert (response.status, response.json()) == (400, {"error": "agent_config is invalid"})
    response = configure(estate["agent"]["id"], [1, 2])
    assert (response.status, response.json()) == (400, {"error": "agent_config is invalid"})


def test_configuration_of_an_unknown_agent_is_404(aws):
    for agent_id in (999999, -1):
        response = configure(agent_id, {"ci_access": {}})
        assert (response.status, response.json()) == (404, {"message": "404 Not found"})


def test_agent_of_a_personal_project_authorises_only_that_namespace(world, estate):
    owner = world.user("dana")
    personal = world.project("lab", owner=owner)
    sibling = world.project("web", owner=owner)
    made = create_agent(owner.client, personal["id"], "home")
    response = configure(
        made["id"],
        {"ci_access": {"projects": [{"id": "dana/web"}, {"id": "acme/team/app"}], "groups": [{"id": "acme"}]}},
    )
    assert response.status == 204
    assert _ci_access_of(made["id"]) == {("project", sibling["id"]): {}}


def test_many_authorisations_span_several_transactions_and_a_repeat_writes_nothing(estate, world):
    from cluster_agents.domain.ci_access import canonical_json
    from cluster_agents.store.agents import agents
    from cluster_agents.store.ci_access import ci_access

    paths = []
    for number in range(60):
        world.project(f"svc{number}", namespace_id=estate["team"]["id"])
        paths.append({"id": f"acme/team/svc{number}", "default_namespace": f"ns{number}"})
    agent_id = estate["agent"]["id"]
    version = agents().get(agent_id).version
    assert configure(agent_id, {"ci_access": {"projects": paths}}).status == 204
    assert len(_ci_access_of(agent_id)) == 60
    assert agents().get(agent_id).version == version + 2  # 60 changes: two transactions
    again = {key: canonical_json(value) for key, value in _ci_access_of(agent_id).items()}
    assert ci_access().replace_for_agent(agents().get(agent_id), again) == 0
    assert agents().get(agent_id).version == version + 2


def test_only_the_first_500_entries_count_and_a_later_duplicate_wins():
    from cluster_agents.domain.ci_access import config_entries

    entries = [{"id": f"acme/p{n}"} for n in range(600)]
    assert len(config_entries({"ci_access": {"projects": entries}}, "projects")) == 500
    assert "acme/p500" not in config_entries({"ci_access": {"projects": entries}}, "projects")
    twice = [
        {"id": "Acme/App", "default_namespace": "a"},
        {"id": "acme/app", "default_namespace": "b"},
        "junk",
        {"no": "id"},
        {"id": 5},
    ]
    assert config_entries({"ci_access": {"projects": twice}}, "projects") == {"acme/app": {"default_namespace": "b"}}
    assert config_entries({"ci_access": None}, "groups") == {}
    assert config_entries([], "groups") == {}


def test_a_concurrent_change_to_the_agent_restarts_the_replacement(estate, monkeypatch):
    from cluster_agents.store import dynamo
    from cluster_agents.store.agents import agents
    from cluster_agents.store.ci_access import ci_access

    agent_id, table = estate["agent"]["id"], ci_access().table
    real = dynamo.transact
    interfered = []

    def transact_after_a_concurrent_writer(actions):
        if not interfered:  # another request changes the agent between our read and our write
            interfered.append(1)
            real(
                [
                    dynamo.update_action(
                        table,
                        f"AGENT#{agent_id}",
                        "A",
                        "SET #v = #v + :one",
                        names={"#v": "version"},
                        values={":one": 1},
                    )
                ]
            )
        return real(actions)

    monkeypatch.setattr(dynamo, "transact", transact_after_a_concurrent_writer)
    before = agents().get(agent_id).version
    wanted = {("project", estate["app"]["id"]): "{}"}
    assert ci_access().replace_for_agent(agents().get(agent_id), wanted) == 1
    assert interfered and agents().get(agent_id).version == before + 2
    assert _ci_access_of(agent_id) == {("project", estate["app"]["id"]): {}}


def test_deleting_the_agent_removes_its_authorisations(estate, api, aws):
    import boto3
    from cluster_agents.ops.invariants import check_items
    from cluster_agents.store.dynamo import from_item

    agent_id = estate["agent"]["id"]
    assert (
        configure(agent_id, {"ci_access": {"projects": [{"id": "acme/team/app"}], "groups": [{"id": "acme"}]}}).status
        == 204
    )
    assert api.delete(f"/projects/{estate['config']['id']}/cluster_agents/{agent_id}").status == 204
    items = [from_item(i) for i in boto3.client("dynamodb").scan(TableName=aws.refs["AgentsTable"])["Items"]]
    # The CIACCESS# items of the project and the group stay, with no entry left in them.
    assert [i for i in items if i["pk"].startswith("CIACCESS#") and set(i) != {"pk", "sk"}] == []
    assert check_items(items).ok, check_items(items).violations
    response = configure(agent_id, {"ci_access": {"groups": [{"id": "acme"}]}})
    assert (response.status, response.json()) == (404, {"message": "404 Not found"})


def _entries(aws, kind: str, source_id: int) -> dict[int, dict]:
    """The entries of a project's or group's CIACCESS# item: ``{agent id: {"p": ..., "c": ...}}``."""
    import boto3
    from cluster_agents.store.dynamo import from_item

    item = (
        from_item(
            boto3.client("dynamodb")
            .get_item(
                TableName=aws.refs["AgentsTable"],
                Key={"pk": {"S": f"CIACCESS#{kind}#{source_id}"}, "sk": {"S": "ALL"}},
                ConsistentRead=True,
            )
            .get("Item")
        )
        or {}
    )
    return {int(name[1:]): entry for name, entry in item.items() if name[1:].isdigit()}


def test_one_item_per_source_holds_every_agents_entry(estate, api, aws):
    first, second = estate["agent"]["id"], create_agent(api, estate["config"]["id"], "second")["id"]
    assert configure(first, {"ci_access": {"groups": [{"id": "acme", "default_namespace": "one"}]}}).status == 204
    assert (
        configure(second, {"ci_access": {"groups": [{"id": "acme"}], "projects": [{"id": "acme/team/app"}]}}).status
        == 204
    )
    config_project = estate["config"]["id"]
    assert _entries(aws, "group", estate["root"]["id"]) == {
        first: {"p": config_project, "c": '{"default_namespace":"one"}'},
        second: {"p": config_project, "c": "{}"},
    }
    assert _entries(aws, "project", estate["app"]["id"]) == {second: {"p": config_project, "c": "{}"}}
    assert configure(first, {}).status == 204  # the entry goes, the other agent's stays
    assert _entries(aws, "group", estate["root"]["id"]) == {second: {"p": config_project, "c": "{}"}}


def test_deleting_an_agent_removes_its_entries_from_every_item_even_past_one_transaction(estate, world, api, aws):
    """60 projects and a group: more than the deleting transaction holds, so some entries go in
    transactions of their own before it; another agent's entries in the same items stay."""
    import boto3
    from cluster_agents.ops.invariants import check_items

    from testkit.counter import RoundTrips
    from tests.tables import scan_all

    paths = []
    for number in range(60):
        world.project(f"svc{number}", namespace_id=estate["team"]["id"])
        paths.append({"id": f"acme/team/svc{number}"})
    config = {"ci_access": {"projects": paths, "groups": [{"id": "acme"}]}}
    doomed, kept = estate["agent"]["id"], create_agent(api, estate["config"]["id"], "kept")["id"]
    assert configure(doomed, config).status == 204
    assert configure(kept, config).status == 204
    items = list(scan_all(boto3.client("dynamodb"), aws.refs["AgentsTable"]))
    with_entries = [i for i in items if i["pk"].startswith("CIACCESS#")]
    assert len(with_entries) == 61 and all({f"a{doomed}", f"a{kept}"} <= set(i) for i in with_entries)

    with RoundTrips().measure() as deleting:
        assert api.delete(f"/projects/{estate['config']['id']}/cluster_agents/{doomed}").status == 204
    transactions = [call.keys for call in deleting.calls if call.operation == "TransactWriteItems"]
    assert len(transactions) == 2, transactions  # the entries that do not fit, then the agent with the rest

    items = list(scan_all(boto3.client("dynamodb"), aws.refs["AgentsTable"]))
    assert [i["pk"] for i in items if f"a{doomed}" in i or i["pk"] == f"AGENT#{doomed}"] == []
    assert len([i for i in items if i["pk"].startswith("CIACCESS#") and set(i) == {"pk", "sk", f"a{kept}"}]) == 61
    report = check_items(items)
    assert report.ok, report.violations
    assert len(_ci_access_of(kept)) == 61


# What one project or group holds, and what one agent may put there: tests/test_ci_access_bounds.py.


def test_a_configuration_is_three_round_trips_and_the_agents_tokens_stay_out_of_it(estate, api):
    """One Query reads the agent with its authorisations (its active tokens sort between them and
    are left out), one BatchGetItem the agent's project and every listed path, then the write."""
    from testkit.counter import RoundTrips

    agent_id = estate["agent"]["id"]
    create_token(api, estate["config"]["id"], agent_id, "first")
    create_token(api, estate["config"]["id"], agent_id, "second")
    assert configure(agent_id, {"ci_access": {"projects": [{"id": "acme/team/app"}]}}).status == 204  # warms up
    counter = RoundTrips()
    with counter.measure() as changed:
        response = configure(
            agent_id,
            {
                "ci_access": {
                    "projects": [{"id": "acme/team/app", "default_namespace": "a"}],
                    "groups": [{"id": "acme/team"}, {"id": "other"}],
                }
            },
        )
    assert response.status == 204
    assert [(call.operation, call.table) for call in changed.calls] == [
        ("Query", "Agents"),
        ("BatchGetItem", "Directory"),
        ("TransactWriteItems", "Agents"),
    ]
    assert _ci_access_of(agent_id) == {
        ("project", estate["app"]["id"]): {"default_namespace": "a"},
        ("group", estate["team"]["id"]): {},
    }
    with counter.measure() as unchanged:
        response = configure(
            agent_id,
            {
                "ci_access": {
                    "projects": [{"id": "acme/team/app", "default_namespace": "a"}],
                    "groups": [{"id": "acme/team"}],
                }
            },
        )
    assert response.status == 204
    assert [call.operation for call in unchanged.calls] == ["Query", "BatchGetItem"]  # nothing to write
    tokens = api.get(f"/projects/{estate['config']['id']}/cluster_agents/{agent_id}/tokens")
    assert sorted(token["name"] for token in tokens.json()) == ["first", "second"]


# ---------------------------------------------------------------- sample events
def _invoke(event: dict) -> dict:
    from devtools.apigw import LambdaContext

    module = importlib.import_module("kas_app")
    return module.lambda_handler(event, LambdaContext("KasFunction"))


@pytest.mark.parametrize("name", ["GetAgentInfo", "GetAgentkAgentInfo"])
def test_sample_agent_info_events(agent, name):
    event = json.loads((EVENTS / "kas" / f"{name}.json").read_text())
    assert _invoke(event)["statusCode"] == 401  # the sample's JWT has long expired
    for headers in (event["headers"], event["multiValueHeaders"]):
        fresh = {"Gitlab-Kas-Api-Request": kas_jwt(), "Gitlab-Agentk-Api-Request": agent[2]["token"]}
        for key, value in fresh.items():
            headers[key] = value if headers is event["headers"] else [value]
    result = _invoke(event)
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["agent_id"] == agent[1]["id"]


def test_sample_agent_configuration_event(api):
    """events/kas/PostAgentConfiguration.json, rendered as `make test-sam-local` renders it (a fresh
    JWT, the agent made before it), authorises root/sample for its agent in root/sample."""
    from devtools.sam_events import EventRun

    sample = api.post("/projects", json_body={"name": "sample"}).json()
    agent = create_agent(api, sample["id"], "sample-agent")
    path = EVENTS / "kas" / "PostAgentConfiguration.json"
    event = EventRun(KAS_SECRET, {"CreateAgent.id": str(agent["id"])}).render(path)
    stale = json.loads(json.dumps(event))
    stale["headers"]["Gitlab-Kas-Api-Request"] = kas_jwt(secret=b"x" * 32)
    stale["multiValueHeaders"]["Gitlab-Kas-Api-Request"] = [stale["headers"]["Gitlab-Kas-Api-Request"]]
    assert _invoke(stale)["statusCode"] == 401
    assert _invoke(event)["statusCode"] == 204
    assert ("project", sample["id"]) in _ci_access_of(agent["id"])
