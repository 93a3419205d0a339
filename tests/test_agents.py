"""Cluster agents (SPEC §2): every status, message and field, GitLab's order of checks, the role
matrix, name rules, uniqueness, ordering and pagination, If-Unmodified-Since and cascade deletion."""

from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest
from cluster_agents.domain.access import AccessLevel

from testkit.client import ApiClient
from tests.conftest import ROOT_TOKEN
from tests.faults import Fault, inject

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
AGENT_FIELDS = ["id", "name", "config_project", "created_at", "created_by_user_id", "is_receptive"]
PROJECT_IDENTITY_FIELDS = [
    "id",
    "description",
    "name",
    "name_with_namespace",
    "path",
    "path_with_namespace",
    "created_at",
]
FORMAT_MESSAGE = "Name can contain only lowercase letters, digits, and '-', but cannot start or end with '-'"
UNAUTHORIZED = {"message": "401 Unauthorized"}
FORBIDDEN = {"message": "403 Forbidden"}
PROJECT_NOT_FOUND = {"message": "404 Project Not Found"}
NOT_FOUND = {"message": "404 Not found"}
LIST_NOT_FOUND = {"message": "404 ClusterAgents Not Found"}


def bad_request(*messages: str) -> dict:
    return {"message": "400 Bad request - [" + ", ".join(json.dumps(m) for m in messages) + "]"}


def agents_path(project_id: int | str) -> str:
    return f"/projects/{project_id}/cluster_agents"


def create(client: ApiClient, project_id: int | str, name: str) -> dict:
    made = client.post(agents_path(project_id), json_body={"name": name})
    assert made.status == 201, made.text
    return made.json()


def scan(table: str) -> list[dict]:
    from cluster_agents.aws import client
    from cluster_agents.store import dynamo

    items, start = [], None
    while True:
        request = {"TableName": table, "ConsistentRead": True, **({"ExclusiveStartKey": start} if start else {})}
        page = client("dynamodb").scan(**request)
        items += [dynamo.from_item(raw) for raw in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def agents_table() -> str:
    from cluster_agents.settings import get_settings

    return get_settings().agents_table


@pytest.fixture
def scene(world):
    """root's project ``root/test`` (as in GitLab's documentation)."""
    project = world.project("test")
    return SimpleNamespace(project=project, pid=project["id"], path=agents_path(project["id"]))


# ---------------------------------------------------------------- the documented examples
def test_documented_examples_return_the_documented_shapes(scene):
    # curl --header "Private-Token: <token>" -X POST --data '{"name":"some-agent"}' -H "Content-Type:application/json"
    anonymous = ApiClient()
    created = anonymous.post(
        f"/projects/{scene.pid}/cluster_agents",
        raw_body='{"name":"some-agent"}',
        headers={"Private-Token": ROOT_TOKEN, "Content-Type": "application/json"},
    )
    assert created.status == 201
    assert created.headers["Content-Type"] == "application/json"
    agent = created.json()
    assert list(agent) == AGENT_FIELDS
    assert list(agent["config_project"]) == PROJECT_IDENTITY_FIELDS
    assert agent["name"] == "some-agent"
    assert agent["config_project"] == {
        "id": scene.pid,
        "description": "",
        "name": "test",
        "name_with_namespace": "Administrator / test",
        "path": "test",
        "path_with_namespace": "root/test",
        "created_at": scene.project["created_at"],
    }
    assert TIMESTAMP.match(agent["created_at"]) and TIMESTAMP.match(agent["config_project"]["created_at"])
    assert isinstance(agent["id"], int) and agent["created_by_user_id"] == 1 and agent["is_receptive"] is False

    listed = anonymous.get(f"/projects/{scene.pid}/cluster_agents", headers={"Private-Token": ROOT_TOKEN})
    assert (listed.status, listed.json()) == (200, [agent])
    single = anonymous.get(f"/projects/{scene.pid}/cluster_agents/{agent['id']}", headers={"Private-Token": ROOT_TOKEN})
    assert (single.status, single.json()) == (200, agent)
    deleted = anonymous.delete(
        f"/projects/{scene.pid}/cluster_agents/{agent['id']}", headers={"Private-Token": ROOT_TOKEN}
    )
    assert (deleted.status, deleted.text) == (204, "")
    assert (
        anonymous.get(
            f"/projects/{scene.pid}/cluster_agents/{agent['id']}", headers={"Private-Token": ROOT_TOKEN}
        ).json()
        == NOT_FOUND
    )


def test_project_by_url_encoded_path_and_bearer_credentials(api, scene):
    agent = create(api, "root%2Ftest", "by-path")
    assert agent["config_project"]["id"] == scene.pid
    response = api.get("/projects/root%2Ftest/cluster_agents", auth="bearer")
    assert [a["name"] for a in response.json()] == ["by-path"]
    assert api.get(f"/projects/root%2Ftest/cluster_agents/{agent['id']}").status == 200
    assert api.get("/projects/root%2Fnope/cluster_agents").json() == PROJECT_NOT_FOUND
    assert api.get("/projects/nope/cluster_agents").json() == PROJECT_NOT_FOUND


def test_python_gitlab_style_empty_json_bodies_on_get_and_delete(api, scene):
    agent = create(api, scene.pid, "empty-bodies")
    headers = {"Content-Type": "application/json"}
    assert api.get(scene.path, raw_body="", headers=headers).status == 200
    assert api.delete(f"{scene.path}/{agent['id']}", raw_body="{}", headers=headers).status == 204


# ---------------------------------------------------------------- authentication and order of checks
@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("POST", ""), ("GET", "/1"), ("DELETE", "/1")])
def test_every_route_needs_authentication_first(api, scene, method, suffix):
    for client in (ApiClient(), ApiClient("glpat-unknown-token")):
        response = client.request(method, f"/projects/999999/cluster_agents{suffix}")  # no name, no project
        assert (response.status, response.json()) == (401, UNAUTHORIZED)


def test_read_api_token_reads_but_cannot_write(world, scene):
    reader = world.user(scopes=["read_api"])
    world.member("project", scene.pid, reader, AccessLevel.MAINTAINER)
    assert reader.client.get(scene.path).status == 200
    response = reader.client.post(scene.path, json_body={"name": "x"})
    assert response.status == 403
    assert response.json()["error"] == "insufficient_scope"


def test_parameters_are_checked_before_the_project(api):
    assert api.post("/projects/999999/cluster_agents").json() == {"error": "name is missing"}
    assert api.post("/projects/999999/cluster_agents", json_body={}).status == 400
    assert api.get("/projects/999999/cluster_agents/abc").json() == {"error": "agent_id is invalid"}
    assert api.delete("/projects/999999/cluster_agents/1.5").json() == {"error": "agent_id is invalid"}
    assert api.get("/projects/999999/cluster_agents", params={"page": "x"}).json() == {"error": "page is invalid"}
    assert api.get("/projects/999999/cluster_agents", params={"per_page": "1e3"}).json() == {
        "error": "per_page is invalid"
    }
    assert api.post("/projects/999999/cluster_agents", json_body={"name": ["a"]}).json() == {"error": "name is invalid"}
    assert api.post("/projects/999999/cluster_agents", json_body={"name": "ok"}).json() == PROJECT_NOT_FOUND
    assert api.get("/projects/999999/cluster_agents/1").json() == PROJECT_NOT_FOUND


def test_delete_without_an_agent_id_is_not_a_route(api, scene):
    response = api.delete(scene.path)
    assert response.status == 404


# ---------------------------------------------------------------- the role matrix
ROLES = {
    "guest": AccessLevel.GUEST,
    "planner": AccessLevel.PLANNER,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}
READERS = {"developer", "maintainer", "owner", "admin"}
WRITERS = {"maintainer", "owner", "admin"}


@pytest.fixture
def cast(world):
    """A private project in a group with one agent, and one person per role (plus an admin and
    an outsider)."""
    group = world.group()
    project = world.project("infra", namespace_id=group["id"])
    agent = create(world.root, project["id"], "existing")
    people = {}
    for role, level in ROLES.items():
        people[role] = world.user()
        world.member("project", project["id"], people[role], level)
    people["admin"] = world.user(admin=True)
    people["outsider"] = world.user()
    return SimpleNamespace(group=group, project=project, path=agents_path(project["id"]), agent=agent, people=people)


def test_role_matrix_for_every_route(cast):
    for role, person in cast.people.items():
        client = person.client
        listed = client.get(cast.path)
        single = client.get(f"{cast.path}/{cast.agent['id']}")
        created = client.post(cast.path, json_body={"name": f"by-{role}"})
        missing_delete = client.delete(f"{cast.path}/999999")
        if role == "outsider":  # a private project the caller cannot see
            for response in (listed, single, created, missing_delete):
                assert (response.status, response.json()) == (404, PROJECT_NOT_FOUND), role
            continue
        if role in READERS:
            assert listed.status == 200, role
            assert single.json() == cast.agent, role
        else:
            assert (listed.status, listed.json()) == (404, LIST_NOT_FOUND), role
            assert (single.status, single.json()) == (404, NOT_FOUND), role
        if role in WRITERS:
            assert created.status == 201, role
            assert (missing_delete.status, missing_delete.json()) == (404, NOT_FOUND), role
            assert client.delete(f"{cast.path}/{created.json()['id']}").status == 204, role
        else:  # 403 comes before the agent lookup: even a missing agent is 403
            assert (created.status, created.json()) == (403, FORBIDDEN), role
            assert (missing_delete.status, missing_delete.json()) == (403, FORBIDDEN), role
            assert client.delete(f"{cast.path}/{cast.agent['id']}").json() == FORBIDDEN, role
    assert [a["name"] for a in cast.people["admin"].client.get(cast.path).json()] == ["existing"]


def test_public_project_without_membership(world):
    owner = world.user()
    project = world.project("open", owner=owner, visibility="public")
    agent = create(owner.client, project["id"], "public-agent")
    stranger = world.user().client
    path = agents_path(project["id"])
    assert stranger.get(path).json() == LIST_NOT_FOUND
    assert stranger.get(f"{path}/{agent['id']}").json() == NOT_FOUND
    assert stranger.post(path, json_body={"name": "x"}).json() == FORBIDDEN
    assert stranger.delete(f"{path}/{agent['id']}").json() == FORBIDDEN


def test_roles_are_inherited_from_ancestor_groups(world):
    top = world.group()
    sub = world.group(parent_id=top["id"])
    project = world.project("deep", namespace_id=sub["id"])
    path = agents_path(project["id"])
    person = world.user()
    world.member("group", top["id"], person, AccessLevel.DEVELOPER)
    assert person.client.get(path).status == 200
    assert person.client.post(path, json_body={"name": "a"}).json() == FORBIDDEN
    world.member("group", sub["id"], person, AccessLevel.MAINTAINER)
    assert person.client.post(path, json_body={"name": "a"}).status == 201


def test_owner_of_a_personal_project(world):
    owner = world.user()
    project = world.project("mine", owner=owner)
    agent = create(owner.client, project["id"], "mine")
    assert agent["created_by_user_id"] == owner.id
    assert agent["config_project"]["path_with_namespace"] == f"{owner.username}/mine"


# ---------------------------------------------------------------- name rules and uniqueness
@pytest.mark.parametrize("name", ["agent", "agent123", "agent-123", "a", "0", "a" * 63, "1-2-3", "a--b"])
def test_accepted_names(api, scene, name):
    assert create(api, scene.pid, name)["name"] == name


@pytest.mark.parametrize(
    "name",
    ["Agent", "agentA", "gent-", "-agent", "agent.a", "agent/a", "agent>a", "#4^x", "agent a", "ägent", "agent\n"],
)
def test_rejected_names(api, scene, name):
    response = api.post(scene.path, json_body={"name": name})
    assert (response.status, response.json()) == (400, bad_request(FORMAT_MESSAGE))


@pytest.mark.parametrize(
    ("name", "messages"),
    [
        ("", ["Name can't be blank", FORMAT_MESSAGE]),
        ("   ", ["Name can't be blank", FORMAT_MESSAGE]),
        (None, ["Name can't be blank", FORMAT_MESSAGE]),
        ("a" * 64, ["Name is too long (maximum is 63 characters)"]),
        ("A" * 64, ["Name is too long (maximum is 63 characters)", FORMAT_MESSAGE]),
        ("-" + "a" * 63, ["Name is too long (maximum is 63 characters)", FORMAT_MESSAGE]),
    ],
)
def test_every_failing_name_rule_is_reported_in_order(api, scene, name, messages):
    response = api.post(scene.path, json_body={"name": name})
    assert (response.status, response.json()) == (400, bad_request(*messages))


def test_form_encoded_and_numeric_names(api, scene):
    assert api.post(scene.path, data={"name": "form-agent"}).status == 201
    assert api.post(scene.path, json_body={"name": 42}).json()["name"] == "42"


def test_names_are_unique_per_project(api, world, scene):
    first = create(api, scene.pid, "shared")
    response = api.post(scene.path, json_body={"name": "shared"})
    assert (response.status, response.json()) == (400, bad_request("Name has already been taken"))
    other = world.project("other")
    assert create(api, other["id"], "shared")["id"] != first["id"]
    assert api.delete(f"{scene.path}/{first['id']}").status == 204
    assert create(api, scene.pid, "shared")["id"] > first["id"]


def test_invalid_names_write_nothing(api, scene):
    before = scan(agents_table())
    for name in ("", "Bad", "a" * 64):
        assert api.post(scene.path, json_body={"name": name}).status == 400
    assert [i for i in scan(agents_table()) if i["pk"] != "COUNTER"] == [i for i in before if i["pk"] != "COUNTER"]


# ---------------------------------------------------------------- single agent lookups
def test_agent_of_another_project_is_not_found(api, world, scene):
    other = world.project("elsewhere")
    foreign = create(api, other["id"], "foreign")
    assert api.get(f"{scene.path}/{foreign['id']}").json() == NOT_FOUND
    assert api.delete(f"{scene.path}/{foreign['id']}").json() == NOT_FOUND
    assert api.get(f"{scene.path}/999999").json() == NOT_FOUND
    assert api.get(f"{scene.path}/-1").json() == NOT_FOUND
    assert api.get(agents_path(other["id"]) + f"/{foreign['id']}").status == 200


def test_is_receptive_follows_the_agent_record(api, scene):
    """The URL configuration adapter sets ``is_receptive`` on the agent and its name-index copy."""
    from cluster_agents.store import dynamo
    from cluster_agents.store.keys import AGENT_SK, agent_pk, name_index_key

    agent = create(api, scene.pid, "receptive")
    table = agents_table()
    for pk, sk in ((agent_pk(agent["id"]), AGENT_SK), name_index_key(scene.pid, "receptive")):
        dynamo.transact([dynamo.update_action(table, pk, sk, "SET is_receptive = :t", values={":t": True})])
    assert api.get(f"{scene.path}/{agent['id']}").json()["is_receptive"] is True
    assert api.get(scene.path).json()[0]["is_receptive"] is True


# ---------------------------------------------------------------- ordering and pagination
def _count_query_items():
    """Record how many items every DynamoDB Query returns."""
    from cluster_agents.aws import client

    seen: list[int] = []

    def record(parsed, **_):
        seen.append(len(parsed.get("Items", [])))

    client("dynamodb").meta.events.register("after-call.dynamodb.Query", record)
    return seen


def test_agents_are_listed_by_name_with_every_pagination_header(api, scene):
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    for name in names:
        create(api, scene.pid, name)
    response = api.get(scene.path, params={"per_page": 2, "page": 2, "private_token": ROOT_TOKEN, "x": "y"})
    assert [a["name"] for a in response.json()] == ["charlie", "delta"]
    headers = response.headers
    assert (
        headers["X-Total"],
        headers["X-Total-Pages"],
        headers["X-Per-Page"],
        headers["X-Page"],
        headers["X-Next-Page"],
        headers["X-Prev-Page"],
    ) == ("5", "3", "2", "2", "3", "1")
    base = f"https://gitlab.test/api/v4/projects/{scene.pid}/cluster_agents"
    assert headers["Link"] == (
        f'<{base}?page=1&per_page=2&x=y>; rel="prev", '
        f'<{base}?page=3&per_page=2&x=y>; rel="next", '
        f'<{base}?page=1&per_page=2&x=y>; rel="first", '
        f'<{base}?page=3&per_page=2&x=y>; rel="last"'
    )
    assert "private_token" not in headers["Link"]
    pages = [
        [a["name"] for a in api.get(scene.path, params={"per_page": 2, "page": page}).json()] for page in (1, 2, 3)
    ]
    assert pages == [["alpha", "bravo"], ["charlie", "delta"], ["echo"]]
    assert api.get(scene.path).json()[0]["name"] == "alpha"
    last = api.get(scene.path, params={"per_page": 2, "page": 3})
    assert (last.headers["X-Next-Page"], last.headers["X-Prev-Page"]) == ("", "2")
    past = api.get(scene.path, params={"per_page": 2, "page": 9})
    assert (past.status, past.json(), past.headers["X-Total"], past.headers["X-Page"]) == (200, [], "5", "9")
    clamped = api.get(scene.path, params={"per_page": 1000, "page": 0})
    assert (clamped.headers["X-Per-Page"], clamped.headers["X-Page"], len(clamped.json())) == ("100", "1", 5)


def test_empty_project_lists_nothing_with_headers(api, scene):
    response = api.get(scene.path)
    assert (response.status, response.json()) == (200, [])
    assert (response.headers["X-Total"], response.headers["X-Total-Pages"]) == ("0", "1")


def test_first_page_reads_only_that_page_and_the_count(api, scene):
    for number in range(12):
        create(api, scene.pid, f"agent-{number:02d}")
    seen = _count_query_items()
    response = api.get(scene.path, params={"per_page": 3})
    assert [a["name"] for a in response.json()] == ["agent-00", "agent-01", "agent-02"]
    assert response.headers["X-Total"] == "12"
    assert seen == [4]  # one Query: #STATS and the three names
    seen.clear()
    response = api.get(scene.path, params={"per_page": 3, "page": 3})
    assert [a["name"] for a in response.json()] == ["agent-06", "agent-07", "agent-08"]
    assert response.headers["X-Total"] == "12"
    assert len(seen) == 2 and sum(seen) <= 10  # the skipped keys (keys only), then the page


# ---------------------------------------------------------------- If-Unmodified-Since
def test_if_unmodified_since(api, scene):
    from datetime import timedelta
    from email.utils import format_datetime

    from cluster_agents import clock

    agent = create(api, scene.pid, "conditional")
    path = f"{scene.path}/{agent['id']}"
    for stale in ("1990-01-12T00:00:48-0600", "Fri, 12 Jan 1990 06:00:48 GMT", "2000-01-01"):
        response = api.delete(path, headers={"If-Unmodified-Since": stale})
        assert (response.status, response.json()) == (412, {"message": "412 Precondition Failed"}), stale
    assert api.get(path).status == 200
    created = clock.parse_iso(agent["created_at"])
    # a millisecond-precise time just before the change is stale ...
    just_before = clock.iso(created - timedelta(milliseconds=1))
    assert api.delete(path, headers={"If-Unmodified-Since": just_before}).status == 412
    # ... and so is the same second given to the second (as HTTP dates are) when the change came
    # later in that second: GitLab compares the exact change time; the next second is not stale
    same_second = format_datetime(created.replace(microsecond=0), usegmt=True)
    expected = 412 if created.microsecond else 204
    assert api.delete(path, headers={"if-unmodified-since": same_second}).status == expected
    next_second = format_datetime(created.replace(microsecond=0) + timedelta(seconds=1), usegmt=True)
    assert api.delete(path, headers={"if-unmodified-since": next_second}).status == 204


@pytest.mark.parametrize(
    "header", ["garbage", "", "32 Foo 2020", "2099-01-01T00:00:00Z", "Thu, 01 Jan 2099 00:00:00 GMT"]
)
def test_unparseable_or_future_if_unmodified_since_is_ignored(api, scene, header):
    agent = create(api, scene.pid, "ignored")
    assert api.delete(f"{scene.path}/{agent['id']}", headers={"If-Unmodified-Since": header}).status == 204


# ---------------------------------------------------------------- cascade deletion
def _seed_owned_items(agent_id: int, project_id: int) -> None:
    """What other adapters put in the agent's partition: a URL configuration (with its entry in the
    receptive-agents index) and ci_access."""
    from cluster_agents.store import dynamo

    table = agents_table()
    configuration = {"id": 77, "agent_id": agent_id, "url": "grpc://agent.example.com"}
    dynamo.transact(
        [
            dynamo.put_action(
                table,
                {
                    "pk": f"AGENT#{agent_id}",
                    "sk": "U",
                    **configuration,
                    "project_id": project_id,
                    "created_by_user_id": 1,
                    "created_at": "2024-01-01T00:00:00.000Z",
                },
            ),
            dynamo.put_action(table, {"pk": "RECEPTIVE", "sk": f"AGENT#{agent_id:012d}", **configuration}),
            dynamo.update_action(
                table,
                f"AGENT#{agent_id}",
                "A",
                "SET is_receptive = :t, version = version + :one",
                values={":t": True, ":one": 1},
            ),
            dynamo.update_action(
                table, f"PROJECT#{project_id}", "AGENT#cascade", "SET is_receptive = :t", values={":t": True}
            ),
        ]
    )
    for kind, target in (("project", 5), ("group", 6), ("group", 7)):
        dynamo.transact(
            [
                dynamo.put_action(
                    table,
                    {
                        "pk": f"AGENT#{agent_id}",
                        "sk": f"CI#{kind}#{target}",
                        "agent_id": agent_id,
                        "agent_project_id": project_id,
                        "kind": kind,
                        "source_id": target,
                        "configuration": "{}",
                    },
                ),
                dynamo.update_action(
                    table,
                    f"CIACCESS#{kind}#{target}",
                    "ALL",
                    "SET #entry = :entry",
                    names={"#entry": f"a{agent_id}"},
                    values={":entry": {"p": project_id, "c": "{}"}},
                ),
            ]
        )


def test_delete_removes_everything_the_agent_owns(api, world, scene):
    from cluster_agents.crypto import digest
    from cluster_agents.ops.invariants import check_items

    keeper = create(api, scene.pid, "keeper")
    keeper_token = api.post(f"{scene.path}/{keeper['id']}/tokens", json_body={"name": "stays"}).json()
    agent = create(api, scene.pid, "cascade")
    tokens = [api.post(f"{scene.path}/{agent['id']}/tokens", json_body={"name": f"t{n}"}).json() for n in range(2)]
    assert api.delete(f"{scene.path}/{agent['id']}/tokens/{tokens[0]['id']}").status == 204
    tokens.append(api.post(f"{scene.path}/{agent['id']}/tokens", json_body={"name": "t2"}).json())
    _seed_owned_items(agent["id"], scene.pid)
    assert check_items(scan(agents_table())).ok

    assert api.delete(f"{scene.path}/{agent['id']}").status == 204

    items = scan(agents_table())
    leftovers = [
        i
        for i in items
        if i["pk"] == f"AGENT#{agent['id']}"
        or i.get("agent_id") == agent["id"]
        or f"a{agent['id']}" in i
        or i["sk"] == f"AGENT#{agent['id']:012d}"
        or i["sk"] == "AGENT#cascade"
    ]
    assert leftovers == []
    for token in tokens:  # the secrets no longer resolve to anything
        assert not [i for i in items if i["pk"] == f"AGENTTOKEN#{digest(token['token'])}"]
    assert [i for i in items if i["pk"] == f"AGENTTOKEN#{digest(keeper_token['token'])}"]
    stats = next(i for i in items if i["pk"] == f"PROJECT#{scene.pid}" and i["sk"] == "#STATS")
    assert stats["agent_count"] == 1
    report = check_items(items)
    assert report.ok, report.violations
    assert [a["name"] for a in api.get(scene.path).json()] == ["keeper"]
    assert api.get(scene.path).headers["X-Total"] == "1"
    assert api.get(f"{scene.path}/{agent['id']}/tokens").json() == NOT_FOUND
    assert api.delete(f"{scene.path}/{agent['id']}").json() == NOT_FOUND


def test_deletion_retries_when_the_agent_changes_meanwhile(api, scene):
    """A token created between reading the partition and deleting bumps the agent's version: the
    deletion reads again and takes the new token (and its lookup item) with it."""
    from cluster_agents.ops.invariants import check_items
    from cluster_agents.store.agents import agents

    agent = create(api, scene.pid, "racing")
    deletion = agents().prepare_deletion(agent["id"])
    late = api.post(f"{scene.path}/{agent['id']}/tokens", json_body={"name": "late"})
    assert late.status == 201
    agents().delete_agent(deletion)
    items = scan(agents_table())
    assert not [i for i in items if i["pk"] == f"AGENT#{agent['id']}" or i.get("agent_id") == agent["id"]]
    assert check_items(items).ok


def test_deleting_an_agent_deleted_meanwhile_succeeds(api, scene):
    from cluster_agents.store.agents import agents

    agent = create(api, scene.pid, "twice")
    deletion = agents().prepare_deletion(agent["id"])
    assert api.delete(f"{scene.path}/{agent['id']}").status == 204
    agents().delete_agent(deletion)  # the outcome asked for already holds
    stats = [i for i in scan(agents_table()) if i["sk"] == "#STATS"]
    assert stats[0]["agent_count"] == 0


# Every writer into an agent's partition, and what the deletion must find of it. The deletion
# reads the partition once and does not read it again after its transaction (store/agents.py):
# that holds only while every such writer either moves the agent's version on in its own
# transaction, on condition that the agent exists, or updates an item the deletion removes, on
# condition that it still exists.
PARTITION_WRITERS = [
    "token create",
    "token revoke",
    "url configuration create",
    "url configuration delete",
    "ci_access",
    "last use",
]


def _agent_with_everything(api, scene, name: str, writer: str) -> SimpleNamespace:
    """An agent with an active token and - unless the writer is to create it - a URL configuration."""
    from cluster_agents.crypto import digest

    agent = create(api, scene.pid, name)
    base = f"{scene.path}/{agent['id']}"
    token = api.post(f"{base}/tokens", json_body={"name": "in-use"}).json()
    configuration = None
    if writer != "url configuration create":
        configuration = api.post(f"{base}/url_configurations", json_body={"url": "grpc://agent.example.com"}).json()
    return SimpleNamespace(
        id=agent["id"], name=name, base=base, token=token, digest=digest(token["token"]), configuration=configuration
    )


def _left_of(agent: SimpleNamespace) -> list[dict]:
    """Whatever of the agent is still stored: its partition, its entries in ci_access items, its
    token lookups and its name index entry."""
    return [
        i
        for i in scan(agents_table())
        if i["pk"] == f"AGENT#{agent.id}"
        or i.get("agent_id") == agent.id
        or f"a{agent.id}" in i
        or i["sk"] in (f"AGENT#{agent.id:012d}", f"AGENT#{agent.name}")
    ]


@pytest.mark.parametrize("writer", PARTITION_WRITERS)
def test_a_write_between_the_deletions_read_and_its_transaction_goes_with_the_agent(api, scene, writer):
    from cluster_agents.ops.invariants import check_items
    from cluster_agents.store.agents import agents

    from tests.test_kas import agent_info, configure

    agent = _agent_with_everything(api, scene, "raced", writer)
    deletion = agents().prepare_deletion(agent.id)
    if writer == "token create":
        assert api.post(f"{agent.base}/tokens", json_body={"name": "late"}).status == 201
    elif writer == "token revoke":
        assert api.delete(f"{agent.base}/tokens/{agent.token['id']}").status == 204
    elif writer == "url configuration create":
        assert api.post(f"{agent.base}/url_configurations", json_body={"url": "grpc://late.example.com"}).status == 201
    elif writer == "url configuration delete":
        assert api.delete(f"{agent.base}/url_configurations/{agent.configuration['id']}").status == 204
    elif writer == "ci_access":
        assert (
            configure(agent.id, {"ci_access": {"projects": [{"id": scene.project["path_with_namespace"]}]}}).status
            == 204
        )
    else:  # the agent server records the token's first use on its item
        assert agent_info(agent.token["token"]).status == 200
        assert api.get(f"{agent.base}/tokens/{agent.token['id']}").json()["last_used_at"] is not None

    agents().delete_agent(deletion)

    assert _left_of(agent) == []
    report = check_items(scan(agents_table()))
    assert report.ok, report.violations


@pytest.mark.parametrize("writer", PARTITION_WRITERS)
def test_a_write_from_a_read_made_before_the_deletion_writes_nothing_after_it(api, scene, writer):
    """Each writer with what it read while the agent still existed, run after the deletion: its
    own condition refuses it, and it leaves nothing behind."""
    from cluster_agents.domain.url_configurations import UrlConfigurationRequest, prepare_url_configuration
    from cluster_agents.errors import AgentNotFound, UrlConfigurationNotFound
    from cluster_agents.ops.invariants import check_items
    from cluster_agents.store.agent_tokens import agent_tokens
    from cluster_agents.store.agents import agents
    from cluster_agents.store.ci_access import ci_access
    from cluster_agents.store.url_configurations import url_configurations

    agent = _agent_with_everything(api, scene, "stale", writer)
    stale_agent = agents().get(agent.id)
    stale_token = agent_tokens().get(agent.id, agent.token["id"])
    stale_configuration = url_configurations().for_agent(agent.id)
    stale_use = agent_tokens().find_active_by_digest(agent.digest)
    assert api.delete(agent.base).status == 204

    if writer == "token create":
        with pytest.raises(AgentNotFound):
            agent_tokens().create_token_within_limit(scene.pid, agent.id, "late", None, 1, "late-digest")
    elif writer == "token revoke":
        with pytest.raises(AgentNotFound):
            agent_tokens().revoke(stale_token)
    elif writer == "url configuration create":
        draft = prepare_url_configuration(UrlConfigurationRequest(url="grpc://late.example.com"))
        with pytest.raises(AgentNotFound):
            url_configurations().create_for_agent(stale_agent, draft, 1)
    elif writer == "url configuration delete":
        with pytest.raises(UrlConfigurationNotFound):
            url_configurations().delete(stale_agent, stale_configuration)
    elif writer == "ci_access":
        with pytest.raises(AgentNotFound):
            ci_access().replace_for_agent(stale_agent, {("project", scene.pid): "{}"})
    else:
        assert agent_tokens().record_use(stale_use) is False

    assert _left_of(agent) == []
    report = check_items(scan(agents_table()))
    assert report.ok, report.violations


# ---------------------------------------------------------------- the store is busy
def test_throttled_registration_is_a_retryable_429_and_writes_nothing(api, scene):
    with inject("dynamodb", Fault("TransactWriteItems", "ThrottlingException", times=10)):
        response = api.post(scene.path, json_body={"name": "throttled"})
    assert (response.status, response.headers["Retry-After"]) == (429, "1")
    assert api.get(scene.path).json() == []
    assert api.post(scene.path, json_body={"name": "throttled"}).status == 201


def test_conflicting_deletion_is_a_retryable_503_and_the_agent_stays_whole(api, scene):
    from cluster_agents.ops.invariants import check_items

    agent = create(api, scene.pid, "conflicted")
    api.post(f"{scene.path}/{agent['id']}/tokens", json_body={"name": "t"})
    fault = Fault(
        "TransactWriteItems",
        "TransactionCanceledException",
        times=10,
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}]},
    )
    with inject("dynamodb", fault):
        response = api.delete(f"{scene.path}/{agent['id']}")
    assert response.status == 503
    assert api.get(f"{scene.path}/{agent['id']}").status == 200
    assert len(api.get(f"{scene.path}/{agent['id']}/tokens").json()) == 1
    assert check_items(scan(agents_table())).ok


def test_a_deletion_that_collides_once_is_retried_and_leaves_nothing(api, scene):
    from cluster_agents.ops.invariants import check_items

    agent = create(api, scene.pid, "collided")
    api.post(f"{scene.path}/{agent['id']}/tokens", json_body={"name": "t"})
    fault = Fault(
        "TransactWriteItems",
        "TransactionCanceledException",
        times=1,
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}]},
    )
    with inject("dynamodb", fault):
        response = api.delete(f"{scene.path}/{agent['id']}")
    assert (response.status, fault.seen) == (204, 1)
    assert api.get(f"{scene.path}/{agent['id']}").status == 404
    items = scan(agents_table())
    assert not [item for item in items if item["pk"] == f"AGENT#{agent['id']}"]
    assert check_items(items).ok


# ---------------------------------------------------------------- sample events
def test_sample_events_drive_the_function(aws):
    """events/agents/*.json, in a sensible order, against root's project root/sample."""
    import importlib

    from cluster_agents.bootstrap import seed_root

    from devtools.apigw import LambdaContext
    from devtools.sam_events import EventRun
    from devtools.sample_events import SAMPLE_TOKEN
    from devtools.template import ROOT

    seed_root(SAMPLE_TOKEN)
    ApiClient(SAMPLE_TOKEN).post("/projects", json_body={"name": "sample"})
    handler = importlib.import_module("agents_app").lambda_handler
    expected = [("CreateAgent", 201), ("ListAgents", 200), ("GetAgent", 200), ("DeleteAgent", 204), ("GetAgent", 404)]
    for name, status in expected:
        event = EventRun(values={"CreateAgent.id": "1"}).render(ROOT / "events" / "agents" / f"{name}.json")
        assert event["requestContext"]["resourcePath"] == event["resource"]
        result = handler(event, LambdaContext("AgentsFunction"))
        assert result["statusCode"] == status, (name, result)
        if name == "CreateAgent":
            assert json.loads(result["body"])["name"] == "some-agent"
        if name == "ListAgents":
            assert [a["config_project"]["path_with_namespace"] for a in json.loads(result["body"])] == ["root/sample"]
