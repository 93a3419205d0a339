"""DynamoDB round trips of a warm request (the targets: reads at most 3, writes at most 4, a
transaction counting once), counted as the benchmark counts them (testkit/counter.py), for the
routes that needed more than that: each one's exact sequence of calls, so a change that adds a
round trip shows here and not only in BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from testkit.client import ApiClient, InProcess, Request
from testkit.container import expire_recent_copies
from testkit.counter import RoundTrips

READ_LIMIT, WRITE_LIMIT = 3, 4


@pytest.fixture
def send(root_token: str) -> Callable[..., object]:
    """Send as root through the handlers in this process; ``measure=True`` returns the calls."""
    client, counter = InProcess(), RoundTrips()

    def sending(method: str, path: str, body: object = None, status: int = 200, measure: bool = False):
        request = Request(method, path, {"PRIVATE-TOKEN": root_token}, body, expect=status)
        with counter.measure() as calls:
            response = client.send(request)
        assert response.status == status, response.body
        return calls if measure else response.json() if response.body else None

    return sending


@pytest.fixture
def agent(world, send) -> SimpleNamespace:
    """An agent of root's project, and a container that has served its project before (warm)."""
    project = world.project("counted")
    base = f"/projects/{project['id']}/cluster_agents"
    made = send("POST", base, {"name": "counted"}, 201)
    send("GET", f"{base}/{made['id']}")
    return SimpleNamespace(project=project, base=base, id=made["id"], path=f"{base}/{made['id']}")


def operations(calls) -> list[str]:
    """The DynamoDB calls, in order (KMS calls aside)."""
    return [call.operation for call in calls.calls if call.service == "dynamodb"]


def without_id_refill(calls) -> list[str]:
    """The DynamoDB calls less a refill of the container's id block (``UpdateItem`` of a ``COUNTER``)."""
    return [
        call.operation
        for call in calls.calls
        if call.service == "dynamodb" and not (call.operation == "UpdateItem" and call.keys.startswith("COUNTER"))
    ]


def test_url_configuration_routes(agent, send):
    base = f"{agent.path}/url_configurations"
    send("GET", base)  # warm: clients, the digest key, the project

    create = send("POST", base, {"url": "grpc://agent.example.com"}, 201, measure=True)
    made = send("GET", base)[0]
    listing = send("GET", base, measure=True)
    single = send("GET", f"{base}/{made['id']}", measure=True)
    delete = send("DELETE", f"{base}/{made['id']}", status=204, measure=True)

    # The agent and its configuration come with the caller's memberships, in one BatchGetItem.
    read = ["GetItem", "BatchGetItem"]
    assert operations(listing) == operations(single) == read
    assert operations(create) == [*read, "UpdateItem", "TransactWriteItems"]
    assert operations(delete) == [*read, "TransactWriteItems"]
    batch = next(call for call in listing.calls if call.operation == "BatchGetItem")
    assert "Agents" in batch.table and "Directory" in batch.table
    assert max(listing.dynamodb, single.dynamodb) <= READ_LIMIT
    assert max(create.dynamodb, delete.dynamodb) <= WRITE_LIMIT


def test_agent_delete_reads_the_partition_once(agent, send):
    token = send("POST", f"{agent.path}/tokens", {"name": "t"}, 201)
    send("DELETE", f"{agent.path}/tokens/{token['id']}", status=204)  # a revoked token stays in the partition
    send("POST", f"{agent.path}/url_configurations", {"url": "grpc://agent.example.com"}, 201)

    delete = send("DELETE", agent.path, status=204, measure=True)

    assert operations(delete) == ["GetItem", "BatchGetItem", "Query", "TransactWriteItems"]
    assert delete.dynamodb <= WRITE_LIMIT


def test_job_create_allocates_the_job_and_pipeline_ids_in_one_write(agent, send):
    job = {"project_id": agent.project["id"], "user_id": 1}
    send("POST", "/admin/ci/jobs", job, 201)  # warm

    first = send("POST", "/admin/ci/jobs", job, 201, measure=True)
    given = send("POST", "/admin/ci/jobs", {**job, "pipeline_id": 2323}, 201, measure=True)

    assert operations(first) == ["GetItem", "GetItem", "UpdateItem", "PutItem"]
    assert operations(given) == operations(first)
    assert first.dynamodb <= WRITE_LIMIT


@pytest.mark.parametrize("depth", [0, 1, 3, 6])
def test_allowed_agents_is_three_round_trips_at_any_group_depth(world, api, depth):
    """The job; ONE BatchGetItem of both tables for the user, the memberships and every agent's
    authorisation of the project and of each of its groups; the project's own agents."""
    from tests.test_allowed_agents import agents_of, allowed, start_job
    from tests.test_kas import configure, create_agent

    parent, groups = None, []
    for level in range(depth):
        groups.append(world.group(f"level{level}", parent_id=parent))
        parent = groups[-1]["id"]
    app = world.project("app", namespace_id=parent)
    home = world.project("kube", namespace_id=groups[0]["id"] if groups else None)
    agents = [create_agent(api, home["id"], f"agent-{number}") for number in range(3)]
    for agent in agents:
        assert (
            configure(
                agent["id"],
                {
                    "ci_access": {
                        "projects": [{"id": app["path_with_namespace"], "default_namespace": "p"}],
                        "groups": [{"id": group["full_path"]} for group in groups],
                    }
                },
            ).status
            == 204
        )
    own = create_agent(api, app["id"], "own")
    developer = world.user("developer")
    world.member("project", app["id"], developer, 30)
    token = start_job(api, app["id"], developer.id)["token"]
    expected = {agent["id"]: {"default_namespace": "p"} for agent in agents} | {own["id"]: {}}
    assert agents_of(allowed(token)) == expected  # warms up

    expire_recent_copies()  # the most a warm request reads: the CIACCESS# items too
    with RoundTrips().measure() as warm:
        assert agents_of(allowed(token)) == expected
    times = f"x{1 + depth}" if depth else ""  # the project, and each of its groups
    assert [(call.operation, call.table, call.keys) for call in warm.calls] == [
        ("GetItem", "Directory", "JOB#"),
        ("BatchGetItem", "Directory+Agents", f"USER#,MEMBERS#{times},CIACCESS#{times}"),
        ("Query", "Agents", "PROJECT#"),
    ]
    assert warm.dynamodb == READ_LIMIT


def test_agent_configuration_writes_each_source_once_in_one_transaction(world, api):
    """The agent with its authorisations (one Query), the paths (one BatchGetItem), then one
    transaction: the agent's version, and per source its CIACCESS# item and the agent's mirror."""
    from tests.test_kas import configure, create_agent

    root = world.group("acme")
    team = world.group("team", parent_id=root["id"])
    home = world.project("kube", namespace_id=root["id"])
    world.project("app", namespace_id=team["id"])
    warming = create_agent(api, home["id"], "warming")  # the container reads and caches the paths
    assert (
        configure(
            warming["id"],
            {"ci_access": {"projects": [{"id": "acme/team/app"}], "groups": [{"id": "acme"}, {"id": "acme/team"}]}},
        ).status
        == 204
    )
    agent = create_agent(api, home["id"], "deployer")
    assert configure(agent["id"], {"ci_access": {"groups": [{"id": "acme"}]}}).status == 204

    with RoundTrips().measure() as calls:
        response = configure(
            agent["id"], {"ci_access": {"projects": [{"id": "acme/team/app"}], "groups": [{"id": "acme/team"}]}}
        )  # acme goes
    assert response.status == 204
    assert [(call.operation, call.table, call.keys) for call in calls.calls] == [
        ("Query", "Agents", "AGENT#"),
        ("BatchGetItem", "Directory", "PROJECTPATH#,NAMESPACE#"),
        ("TransactWriteItems", "Agents", "7 actions: AGENT#x4,CIACCESS#x3"),  # the version, then 3 x 2
    ]
    assert calls.dynamodb <= WRITE_LIMIT


def test_metadata_and_own_token_routes(world, send):
    """The token's item is all a read needs; a token of one's own is an id and one transaction
    (the token and its id pointer). No KMS call once warm."""
    from testkit.client import ApiClient

    person = world.user("counted-user")
    send("GET", "/metadata")  # warm: clients, the digest key

    reads = {path: send("GET", path, measure=True) for path in ("/metadata", "/version")}
    with RoundTrips().measure() as head:
        assert ApiClient(person.token).request("HEAD", "/metadata").status == 200
    with RoundTrips().measure() as own:
        assert ApiClient(person.token).get("/personal_access_tokens/self").status == 200
    create = send(
        "POST", "/user/personal_access_tokens", {"name": "kubectl", "scopes": ["k8s_proxy"]}, 201, measure=True
    )

    for calls in (*reads.values(), head, own):
        assert [(call.operation, call.table, call.keys) for call in calls.calls] == [("GetItem", "Directory", "PAT#")]
        assert calls.dynamodb <= READ_LIMIT
    # The token's id comes from this container's block of ids (store/ids.py): an UpdateItem of the
    # counter only when the block is used up (the person's own token was taken from it above).
    assert without_id_refill(create) == ["GetItem", "TransactWriteItems"]
    assert operations(create).count("UpdateItem") <= 1
    assert create.dynamodb <= WRITE_LIMIT
    assert create.kms == 0 and all(calls.kms == 0 for calls in (*reads.values(), head, own))


def test_authorize_proxy_user_is_two_reads_and_at_most_one_write(world, api):
    """ONE BatchGetItem of both tables for the token, the agent and its user_access; ONE for the
    user's memberships of every stored project and group (with its groups or ancestors); the
    token's last_used_at at most once a minute."""
    from tests.test_kas import configure, create_agent
    from tests.test_user_access import authorize, proxy_request

    root = world.group("acme")
    team = world.group("team", parent_id=root["id"])
    home = world.project("kube", namespace_id=root["id"])
    app = world.project("app", namespace_id=team["id"])
    agent = create_agent(api, home["id"], "proxy")
    assert (
        configure(
            agent["id"],
            {
                "user_access": {
                    "access_as": {"user": {}},
                    "projects": [{"id": "acme/team/app"}],
                    "groups": [{"id": "acme/team"}],
                }
            },
        ).status
        == 204
    )
    alice = world.user("alice", scopes=["k8s_proxy"])
    world.member("project", app["id"], alice, 30)

    with RoundTrips().measure() as first:
        assert authorize(proxy_request(agent["id"], alice.token)).status == 201
    with RoundTrips().measure() as warm:
        assert authorize(proxy_request(agent["id"], alice.token)).status == 201
    reads = [
        ("BatchGetItem", "Directory+Agents", "PAT#,AGENT#x2"),
        ("BatchGetItem", "Directory", "MEMBERS#x3"),  # app, team, acme (team's own and its ancestor's)
    ]
    assert [(call.operation, call.table, call.keys) for call in warm.calls] == reads
    assert [(call.operation, call.table, call.keys) for call in first.calls] == [
        reads[0],
        ("UpdateItem", "Directory", "PAT#"),
        reads[1],
    ]
    assert warm.dynamodb <= READ_LIMIT and first.dynamodb <= READ_LIMIT and first.kms == warm.kms == 0


def test_agent_configuration_replaces_ci_access_and_user_access_in_one_transaction(world, api):
    from tests.test_kas import configure, create_agent

    root = world.group("acme")
    home = world.project("kube", namespace_id=root["id"])
    world.project("app", namespace_id=root["id"])
    warming = create_agent(api, home["id"], "warming")
    config = {
        "ci_access": {"groups": [{"id": "acme"}]},
        "user_access": {"access_as": {"agent": {}}, "projects": [{"id": "acme/app"}]},
    }
    assert configure(warming["id"], config).status == 204
    agent = create_agent(api, home["id"], "deployer")

    with RoundTrips().measure() as calls:
        assert configure(agent["id"], config).status == 204
    assert [(call.operation, call.table, call.keys) for call in calls.calls] == [
        ("Query", "Agents", "AGENT#"),
        ("BatchGetItem", "Directory", "PROJECTPATH#,NAMESPACE#"),
        ("TransactWriteItems", "Agents", "4 actions: AGENT#x3,CIACCESS#"),  # version, ci_access pair, user_access
    ]
    with RoundTrips().measure() as unchanged:
        assert configure(agent["id"], config).status == 204
    assert [call.operation for call in unchanged.calls] == ["Query", "BatchGetItem"]
    assert calls.dynamodb <= WRITE_LIMIT


def test_agent_server_routes(agent, send, world):
    """receptive_agents: the receptive index's generation alone while nothing changed, no KMS when
    warm (the data key is decrypted once per container); verify_project_access: the token's lookup
    and its agent (its use written at most once a minute), the project from the container's cache;
    usage metrics and agent events: validated and discarded, no AWS call at all."""
    from tests.test_kas import create_token, kas_headers

    client = InProcess()
    send("POST", f"{agent.path}/url_configurations", {"url": "grpc://agent.example.com"}, 201)
    token = create_token(ApiClient("glpat-root-token-for-tests-000"), agent.project["id"], agent.id)["token"]

    def measured(
        method: str, path: str, headers: dict, body: object = None, query: dict | None = None, status: int = 200
    ):
        with RoundTrips().measure() as calls:
            response = client.send(Request(method, path, headers, body, query=query, expect=status))
        assert response.status == status, response.body
        return calls

    receptive = "/internal/kubernetes/receptive_agents"
    measured("GET", receptive, kas_headers())  # cold: decrypts the data key
    warm = measured("GET", receptive, kas_headers())
    assert [(call.operation, call.keys) for call in warm.calls] == [("GetItem", "RECEPTIVE#")]
    assert warm.kms == 0 and warm.items_read == 1

    verify = "/internal/kubernetes/verify_project_access"
    by_path = {"id": agent.project["path_with_namespace"]}
    first = measured("GET", verify, kas_headers(token, "Gitlab-Agentk-Api-Request"), query=by_path, status=204)
    assert operations(first).count("UpdateItem") == 1  # the token's first use
    again = measured("GET", verify, kas_headers(token, "Gitlab-Agentk-Api-Request"), query=by_path, status=204)
    assert operations(again) == ["GetItem", "Query"] and again.kms == 0
    assert max(first.dynamodb, again.dynamodb) <= WRITE_LIMIT and again.dynamodb <= READ_LIMIT

    for path, body in (
        ("/internal/kubernetes/usage_metrics", {"counters": {"k8s_api_proxy_request": 1}}),
        ("/internal/kubernetes/agent_events", {"events": {"register_agent_at_kas": [{}]}}),
    ):
        calls = measured("POST", path, kas_headers(), body, status=204)
        assert calls.calls == []
