"""Agent tokens (SPEC §3): shapes, the two-active-token limit, validation order, revocation,
ordering by last use, pagination, the role matrix and what is (not) stored."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from cluster_agents.domain.access import AccessLevel

from testkit.client import ApiClient
from tests.conftest import ROOT_TOKEN
from tests.faults import Fault, inject
from tests.test_agents import TIMESTAMP, agents_table, bad_request, create, scan

BASIC_FIELDS = ["id", "name", "description", "agent_id", "status", "created_at", "created_by_user_id"]
TOKEN_VALUE = re.compile(r"^glagent-[A-Za-z0-9_-]{50}$")
LIMIT = {"message": "400 Bad request - An agent can have only two active tokens at a time"}
NOT_FOUND = {"message": "404 Not found"}
FORBIDDEN = {"message": "403 Forbidden"}
PROJECT_NOT_FOUND = {"message": "404 Project Not Found"}


@pytest.fixture
def scene(api, world):
    """root's project ``root/test`` with agent ``agent-1``."""
    project = world.project("test")
    agent = create(api, project["id"], "agent-1")
    path = f"/projects/{project['id']}/cluster_agents/{agent['id']}/tokens"
    return SimpleNamespace(project=project, pid=project["id"], agent=agent, aid=agent["id"], path=path)


def new_token(client: ApiClient, path: str, name: str = "abcd", **fields) -> dict:
    made = client.post(path, json_body={"name": name, **fields})
    assert made.status == 201, made.text
    return made.json()


def set_last_used(agent_id: int, token_id: int, when: str) -> None:
    """What the agent server does when a token authenticates."""
    from cluster_agents.store import dynamo
    from cluster_agents.store.keys import ACTIVE_TOKEN_PREFIX, agent_pk, token_sk

    dynamo.transact(
        [
            dynamo.update_action(
                agents_table(),
                agent_pk(agent_id),
                token_sk(ACTIVE_TOKEN_PREFIX, token_id),
                "SET last_used_at = :t",
                "attribute_exists(pk)",
                values={":t": when},
            )
        ]
    )


# ---------------------------------------------------------------- the documented examples
def test_documented_examples_return_the_documented_shapes(scene):
    anonymous = ApiClient()
    headers = {"Private-Token": ROOT_TOKEN}
    created = anonymous.post(
        scene.path, raw_body='{"name":"some-token"}', headers={**headers, "Content-Type": "application/json"}
    )
    assert created.status == 201
    token = created.json()
    assert list(token) == [*BASIC_FIELDS, "last_used_at", "token"]
    assert token["name"] == "some-token" and token["description"] is None and token["status"] == "active"
    assert token["agent_id"] == scene.aid and token["created_by_user_id"] == 1 and token["last_used_at"] is None
    assert TIMESTAMP.match(token["created_at"])
    assert TOKEN_VALUE.match(token["token"]) and len(token["token"]) == 58

    listed = anonymous.get(scene.path, headers=headers)
    assert listed.status == 200
    assert listed.json() == [{key: token[key] for key in BASIC_FIELDS}]
    assert list(listed.json()[0]) == BASIC_FIELDS  # no last_used_at, no token
    single = anonymous.get(f"{scene.path}/{token['id']}", headers=headers)
    assert single.status == 200
    assert single.json() == {key: token[key] for key in [*BASIC_FIELDS, "last_used_at"]}
    assert list(single.json()) == [*BASIC_FIELDS, "last_used_at"]
    revoked = anonymous.delete(f"{scene.path}/{token['id']}", headers=headers)
    assert (revoked.status, revoked.text) == (204, "")


def test_description_is_stored_and_shown(api, scene):
    token = new_token(api, scene.path, "abcd", description="Some token")
    assert token["description"] == "Some token"
    assert api.get(f"{scene.path}/{token['id']}").json()["description"] == "Some token"
    assert new_token(api, scene.path, "form", description=None)["description"] is None


def test_token_values_are_random_and_only_their_digest_is_stored(api, scene):
    from cluster_agents.crypto import digest

    first = new_token(api, scene.path, "one")
    second = new_token(api, scene.path, "two")
    assert first["token"] != second["token"]
    text = json.dumps(scan(agents_table()))
    for token in (first, second):
        assert token["token"] not in text
        assert token["token"][len("glagent-") :] not in text
        assert f"AGENTTOKEN#{digest(token['token'])}" in text


# ---------------------------------------------------------------- the two-token limit
def test_at_most_two_active_tokens(api, scene):
    first = new_token(api, scene.path, "one")
    new_token(api, scene.path, "two")
    third = api.post(scene.path, json_body={"name": "three"})
    assert (third.status, third.json()) == (400, LIMIT)
    # the limit comes before field validation
    assert api.post(scene.path, json_body={"name": ""}).json() == LIMIT
    assert api.post(scene.path, json_body={"name": "x", "description": "d" * 2000}).json() == LIMIT
    # but parameters (Grape) come before it
    assert api.post(scene.path, json_body={}).json() == {"error": "name is missing"}
    assert api.delete(f"{scene.path}/{first['id']}").status == 204
    assert new_token(api, scene.path, "three")["name"] == "three"
    assert api.post(scene.path, json_body={"name": "four"}).json() == LIMIT
    agent_item = next(i for i in scan(agents_table()) if i["pk"] == f"AGENT#{scene.aid}" and i["sk"] == "A")
    assert agent_item["active_tokens"] == 2


def test_the_limit_is_a_condition_of_the_write(api, scene):
    """Even when the caller's check passed on a stale read, the transaction refuses a third token."""
    from cluster_agents.errors import TokenLimitReached
    from cluster_agents.store.agent_tokens import agent_tokens

    new_token(api, scene.path, "one")
    new_token(api, scene.path, "two")
    before = [i for i in scan(agents_table()) if i["pk"] != "COUNTER"]
    with pytest.raises(TokenLimitReached):
        agent_tokens().create_token_within_limit(scene.pid, scene.aid, "sneaky", None, 1, "f" * 64)
    assert [i for i in scan(agents_table()) if i["pk"] != "COUNTER"] == before


def test_limits_are_per_agent(api, scene):
    other = create(api, scene.pid, "agent-2")
    other_path = f"/projects/{scene.pid}/cluster_agents/{other['id']}/tokens"
    for path in (scene.path, other_path):
        new_token(api, path, "one")
        new_token(api, path, "two")
    assert api.post(other_path, json_body={"name": "three"}).json() == LIMIT


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("body", "messages"),
    [
        ({"name": ""}, ["Name can't be blank"]),
        ({"name": "  "}, ["Name can't be blank"]),
        ({"name": None}, ["Name can't be blank"]),
        ({"name": "n" * 256}, ["Name is too long (maximum is 255 characters)"]),
        ({"name": "ok", "description": "d" * 1025}, ["Description is too long (maximum is 1024 characters)"]),
        (
            {"name": "", "description": "d" * 1025},
            ["Description is too long (maximum is 1024 characters)", "Name can't be blank"],
        ),
        (
            {"name": "n" * 256, "description": "d" * 1025},
            ["Description is too long (maximum is 1024 characters)", "Name is too long (maximum is 255 characters)"],
        ),
    ],
)
def test_every_failing_field_rule_is_reported_in_order(api, scene, body, messages):
    response = api.post(scene.path, json_body=body)
    assert (response.status, response.json()) == (400, bad_request(*messages))


def test_longest_valid_fields_are_accepted(api, scene):
    token = new_token(api, scene.path, "n" * 255, description="d" * 1024)
    assert (len(token["name"]), len(token["description"])) == (255, 1024)


def test_parameter_errors(api, scene):
    base = f"/projects/{scene.pid}/cluster_agents"
    assert api.post(f"{base}/abc/tokens").json() == {"error": "agent_id is invalid, name is missing"}
    assert api.post("/projects/999999/cluster_agents/1/tokens").json() == {"error": "name is missing"}
    assert api.post(scene.path, json_body={"name": {"a": 1}}).json() == {"error": "name is invalid"}
    assert api.post(scene.path, json_body={"name": "x", "description": ["d"]}).json() == {
        "error": "description is invalid"
    }
    assert api.get(f"{base}/x/tokens/y").json() == {"error": "agent_id is invalid, token_id is invalid"}
    assert api.delete(f"{scene.path}/1.0").json() == {"error": "token_id is invalid"}
    assert api.get(f"{base}/x/tokens", params={"page": "z"}).json() == {"error": "agent_id is invalid, page is invalid"}
    assert api.get("/projects/999999/cluster_agents/1/tokens/1").json() == PROJECT_NOT_FOUND
    assert api.post("/projects/999999/cluster_agents/1/tokens", json_body={"name": "x"}).json() == PROJECT_NOT_FOUND
    assert api.post(scene.path, data={"name": "form-encoded", "description": "d"}).status == 201


@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", ""), ("GET", "/1"), ("DELETE", "/1")])
def test_every_route_needs_authentication_first(api, method, suffix):
    for client in (ApiClient(), ApiClient("glpat-unknown-token")):
        response = client.request(method, f"/projects/999999/cluster_agents/abc/tokens{suffix}")
        assert (response.status, response.json()) == (401, {"message": "401 Unauthorized"})


# ---------------------------------------------------------------- revocation and lookups
def test_revoked_tokens_are_kept_but_not_found(api, scene):
    from cluster_agents.crypto import digest

    token = new_token(api, scene.path, "doomed")
    keep = new_token(api, scene.path, "kept")
    assert api.delete(f"{scene.path}/{token['id']}").status == 204
    assert api.get(f"{scene.path}/{token['id']}").json() == NOT_FOUND
    assert [t["id"] for t in api.get(scene.path).json()] == [keep["id"]]
    again = api.delete(f"{scene.path}/{token['id']}")
    assert (again.status, again.text) == (204, "")
    items = scan(agents_table())
    record = next(i for i in items if i["pk"] == f"AGENT#{scene.aid}" and i["sk"] == f"RT#{token['id']:012d}")
    assert (record["status"], record["name"], record["id"]) == ("revoked", "doomed", token["id"])
    assert "token_digest" not in record
    assert not [i for i in items if i["pk"] == f"AGENTTOKEN#{digest(token['token'])}"]
    assert [i for i in items if i["pk"] == f"AGENTTOKEN#{digest(keep['token'])}"]
    agent_item = next(i for i in items if i["pk"] == f"AGENT#{scene.aid}" and i["sk"] == "A")
    assert agent_item["active_tokens"] == 1


def test_tokens_of_other_agents_and_projects_are_not_found(api, world, scene):
    token = new_token(api, scene.path)
    other = create(api, scene.pid, "agent-2")
    other_path = f"/projects/{scene.pid}/cluster_agents/{other['id']}/tokens"
    assert api.get(f"{other_path}/{token['id']}").json() == NOT_FOUND
    assert api.delete(f"{other_path}/{token['id']}").json() == NOT_FOUND
    assert api.get(f"{scene.path}/999999").json() == NOT_FOUND
    assert api.delete(f"{scene.path}/999999").json() == NOT_FOUND
    elsewhere = world.project("elsewhere")
    foreign_path = f"/projects/{elsewhere['id']}/cluster_agents/{scene.aid}/tokens"
    for response in (
        api.get(foreign_path),
        api.get(f"{foreign_path}/{token['id']}"),
        api.post(foreign_path, json_body={"name": "x"}),
        api.delete(f"{foreign_path}/{token['id']}"),
    ):
        assert (response.status, response.json()) == (404, NOT_FOUND)
    missing = f"/projects/{scene.pid}/cluster_agents/999999/tokens"
    for response in (
        api.get(missing),
        api.get(f"{missing}/1"),
        api.post(missing, json_body={"name": "x"}),
        api.post(missing, json_body={"name": ""}),
        api.delete(f"{missing}/1"),
    ):
        assert (response.status, response.json()) == (404, NOT_FOUND)
    assert api.get(f"{scene.path}/{token['id']}").status == 200


def test_tokens_of_a_deleted_agent_are_gone(api, scene):
    from cluster_agents.crypto import digest

    token = new_token(api, scene.path)
    assert api.delete(f"/projects/{scene.pid}/cluster_agents/{scene.aid}").status == 204
    assert api.get(scene.path).json() == NOT_FOUND
    assert api.get(f"{scene.path}/{token['id']}").json() == NOT_FOUND
    assert not [i for i in scan(agents_table()) if i["pk"] == f"AGENTTOKEN#{digest(token['token'])}"]


# ---------------------------------------------------------------- ordering, last use, pagination
def test_tokens_are_ordered_by_last_use(api, scene):
    first = new_token(api, scene.path, "first")
    second = new_token(api, scene.path, "second")

    def order():
        return [t["id"] for t in api.get(scene.path).json()]

    assert order() == [first["id"], second["id"]]  # never used: by id
    set_last_used(scene.aid, second["id"], "2024-05-01T10:00:00.000Z")
    assert order() == [second["id"], first["id"]]  # used before never used
    assert api.get(f"{scene.path}/{second['id']}").json()["last_used_at"] == "2024-05-01T10:00:00.000Z"
    assert api.get(f"{scene.path}/{first['id']}").json()["last_used_at"] is None
    assert "last_used_at" not in api.get(scene.path).json()[0]
    set_last_used(scene.aid, first["id"], "2024-05-02T10:00:00.000Z")
    assert order() == [first["id"], second["id"]]  # most recent first
    set_last_used(scene.aid, second["id"], "2024-05-02T10:00:00.000Z")
    assert order() == [first["id"], second["id"]]  # ties by id


def test_token_list_is_paginated_with_every_header(api, scene):
    first = new_token(api, scene.path, "first")
    second = new_token(api, scene.path, "second")
    page1 = api.get(scene.path, params={"per_page": 1})
    assert [t["id"] for t in page1.json()] == [first["id"]]
    assert (
        page1.headers["X-Total"],
        page1.headers["X-Total-Pages"],
        page1.headers["X-Next-Page"],
        page1.headers["X-Prev-Page"],
        page1.headers["X-Per-Page"],
    ) == ("2", "2", "2", "", "1")
    assert 'rel="next"' in page1.headers["Link"] and 'rel="prev"' not in page1.headers["Link"]
    assert page1.headers["Link"].startswith(f"<https://gitlab.test/api/v4{scene.path}?page=2&per_page=1>")
    page2 = api.get(scene.path, params={"per_page": 1, "page": 2})
    assert [t["id"] for t in page2.json()] == [second["id"]]
    past = api.get(scene.path, params={"page": 5})
    assert (past.json(), past.headers["X-Total"]) == ([], "2")


def test_listing_reads_only_the_agent_and_its_active_tokens(api, scene):
    from cluster_agents.aws import client

    for name in ("a", "b", "c", "d"):
        token = new_token(api, scene.path, name)
        assert api.delete(f"{scene.path}/{token['id']}").status == 204
    new_token(api, scene.path, "live")
    seen: list[int] = []
    client("dynamodb").meta.events.register(
        "after-call.dynamodb.Query", lambda parsed, **_: seen.append(len(parsed.get("Items", [])))
    )
    assert [t["name"] for t in api.get(scene.path).json()] == ["live"]
    assert seen == [2]  # one Query: the agent and one active token; four revoked ones never read


# ---------------------------------------------------------------- the role matrix
ROLES = {
    "guest": AccessLevel.GUEST,
    "planner": AccessLevel.PLANNER,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}


def test_role_matrix_for_every_route(api, world):
    group = world.group()
    project = world.project("infra", namespace_id=group["id"])
    agent = create(api, project["id"], "infra-agent")
    path = f"/projects/{project['id']}/cluster_agents/{agent['id']}/tokens"
    token = new_token(api, path, "existing")
    people = {role: world.user() for role in ROLES}
    for role, level in ROLES.items():
        world.member("project", project["id"], people[role], level)
    people["admin"] = world.user(admin=True)
    people["outsider"] = world.user()
    inherited = world.user()
    world.member("group", group["id"], inherited, AccessLevel.MAINTAINER)
    people["group-maintainer"] = inherited
    for role, person in people.items():
        client = person.client
        listed, single = client.get(path), client.get(f"{path}/{token['id']}")
        created = client.post(path, json_body={"name": role})
        revoke_missing = client.delete(f"{path}/999999")
        if role == "outsider":
            for response in (listed, single, created, revoke_missing):
                assert (response.status, response.json()) == (404, PROJECT_NOT_FOUND), role
            continue
        if role in ("guest", "planner", "reporter"):
            assert (listed.status, listed.json()) == (404, NOT_FOUND), role
            assert (single.status, single.json()) == (404, NOT_FOUND), role
        else:
            assert listed.status == 200 and single.status == 200, role
        if role in ("guest", "planner", "reporter", "developer"):
            assert (created.status, created.json()) == (403, FORBIDDEN), role
            assert (revoke_missing.status, revoke_missing.json()) == (403, FORBIDDEN), role
            assert client.delete(f"{path}/{token['id']}").json() == FORBIDDEN, role
        else:
            assert created.status == 201, role
            assert (revoke_missing.status, revoke_missing.json()) == (404, NOT_FOUND), role
            assert client.delete(f"{path}/{created.json()['id']}").status == 204, role
    assert [t["id"] for t in api.get(path).json()] == [token["id"]]


# ---------------------------------------------------------------- the store is busy
def test_throttled_token_creation_is_a_retryable_429_and_writes_nothing(api, scene):
    with inject("dynamodb", Fault("TransactWriteItems", "ThrottlingException", times=10)):
        response = api.post(scene.path, json_body={"name": "throttled"})
    assert (response.status, response.headers["Retry-After"]) == (429, "1")
    assert api.get(scene.path).json() == []
    agent_item = next(i for i in scan(agents_table()) if i["pk"] == f"AGENT#{scene.aid}" and i["sk"] == "A")
    assert agent_item["active_tokens"] == 0


def test_conflicting_revocation_is_a_retryable_503_and_the_token_stays_active(api, scene):
    token = new_token(api, scene.path)
    fault = Fault(
        "TransactWriteItems",
        "TransactionCanceledException",
        times=10,
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}]},
    )
    with inject("dynamodb", fault):
        response = api.delete(f"{scene.path}/{token['id']}")
    assert response.status == 503
    assert api.get(f"{scene.path}/{token['id']}").json()["status"] == "active"


# ---------------------------------------------------------------- sample events
def test_sample_events_drive_the_function(aws):
    """events/agent_tokens/*.json against agent 1 of root's project root/sample."""
    import importlib

    from cluster_agents.bootstrap import seed_root

    from devtools.apigw import LambdaContext
    from devtools.sam_events import EventRun
    from devtools.sample_events import SAMPLE_TOKEN
    from devtools.template import ROOT

    seed_root(SAMPLE_TOKEN)
    root = ApiClient(SAMPLE_TOKEN)
    root.post("/projects", json_body={"name": "sample"})
    assert root.post("/projects/root%2Fsample/cluster_agents", json_body={"name": "sample-agent"}).json()["id"] == 1
    handler = importlib.import_module("agent_tokens_app").lambda_handler
    expected = [
        ("CreateAgentToken", 201),
        ("ListAgentTokens", 200),
        ("GetAgentToken", 200),
        ("RevokeAgentToken", 204),
        ("GetAgentToken", 404),
        ("RevokeAgentToken", 204),
    ]
    for name, status in expected:
        event = EventRun(values={"CreateAgent.id": "1", "CreateAgentToken.id": "1"}).render(
            ROOT / "events" / "agent_tokens" / f"{name}.json"
        )
        result = handler(event, LambdaContext("AgentTokensFunction"))
        assert result["statusCode"] == status, (name, result)
        if name == "CreateAgentToken":
            body = json.loads(result["body"])
            assert (body["id"], body["name"], body["description"]) == (1, "some-token", "Some token")
            assert TOKEN_VALUE.match(body["token"])
