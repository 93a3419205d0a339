"""The benchmark's round-trip counter (testkit/counter.py) counts what the handlers really do:
botocore hooks on the functions' own clients, cold vs warm, items read. Counts only, no timings."""

from __future__ import annotations

import pytest

from bench.scenarios import SCENARIOS, World, plan, route_key, template_routes
from testkit.client import InProcess, Request
from testkit.container import reset_caches
from testkit.counter import RoundTrips

pytestmark = pytest.mark.slow


@pytest.fixture
def counter() -> RoundTrips:
    return RoundTrips()


def test_a_warm_pat_request_is_one_getitem_and_no_kms(root_token, counter):
    client = InProcess()
    request = Request("GET", "/user", {"PRIVATE-TOKEN": root_token})

    reset_caches()  # Given a fresh container
    with counter.measure() as cold:
        assert client.send(request).status == 200
    with counter.measure() as warm:
        assert client.send(request).status == 200

    # Then the first request derives the digest key from KMS once, the second does not
    assert cold.operations()["kms:GenerateMac"] == 1
    assert warm.by_service() == {"dynamodb": 1, "kms": 0, "secretsmanager": 0}
    assert [(c.operation, c.table, c.keys) for c in warm.calls] == [("GetItem", "Directory", "PAT#")]
    assert warm.items_read == 1


def test_no_aws_call_is_counted_as_none_and_calls_outside_measure_are_ignored(root_token, counter):
    client = InProcess()
    with counter.measure() as calls:
        assert client.send(Request("GET", "/docs")).status == 200
    client.send(Request("GET", "/user", {"PRIVATE-TOKEN": root_token}))  # outside: not counted
    assert calls.calls == []
    assert calls.sequence() == "(none)"


def test_queries_count_scanned_items_and_batch_gets_their_keys(root_token, world, counter):
    # Given a project with two members besides its creator
    project = world.project("counted")
    for name in ("ann", "bob"):
        world.member("project", project["id"], world.user(name), 30)
    client = InProcess()
    request = Request("GET", f"/projects/{project['id']}/members", {"PRIVATE-TOKEN": root_token})
    client.send(request)

    with counter.measure() as warm:
        assert client.send(request).status == 200

    operations = [call.operation for call in warm.calls]
    assert operations[0] == "GetItem" and "Query" in operations
    query = next(call for call in warm.calls if call.operation == "Query")
    assert query.keys == "MEMBERS#" and query.items_read == 2  # ScannedCount of the members partition
    assert warm.items_read >= 3


def test_a_scenario_drives_its_route_through_the_world(root_token, counter):
    # Given the bench's own world builder and the GET /user scenario
    client = InProcess()
    world = World(client, "smoke", root_token=root_token)
    item = next(s for s in SCENARIOS if s.key == route_key("GET", "/user"))
    request = next(item.make(world))
    client.send(request)

    with counter.measure() as warm:
        response = client.send(request)

    assert response.status == request.expect == 200
    assert warm.dynamodb == 1 and warm.kms == 0


def test_routes_are_matched_whatever_their_parameter_names():
    assert route_key("GET", "/api/v4/projects/{id}/cluster_agents/{agent_id}") == route_key(
        "get", "/projects/{project}/cluster_agents/{x}"
    )


def test_every_scenario_runs_and_routes_without_one_are_listed():
    routes = template_routes()
    extra = {route_key("POST", "/api/v4/nowhere"), route_key("GET", "/api/v4/new.json")}
    scripted = plan(routes | extra)
    names = [s.name for s in scripted.runnable]
    assert names[: len(SCENARIOS)] == [s.name for s in SCENARIOS]
    assert "GET /new.json (generic scenario: GET as root)" in names
    assert scripted.unscripted == [("POST", "/api/v4/nowhere")]
    with pytest.raises(ValueError, match=r"GET /projects/\{\}/cluster_agents"):
        plan({route_key("GET", "/api/v4/version")})


def test_the_authorize_proxy_user_scenario_meets_its_targets(root_token, counter, monkeypatch):
    """POST /internal/kubernetes/authorize_proxy_user: warm, two reads (three with the token's
    last_used_at, at most once a minute), no KMS."""
    from bench.stack import KAS_SECRET
    from testkit.container import reset_caches

    monkeypatch.setenv("KAS_SECRET", KAS_SECRET)  # the bench signs with its own
    reset_caches()
    client = InProcess()
    world = World(client, "proxy", root_token=root_token)
    item = next(s for s in SCENARIOS if s.key == route_key("POST", "/internal/kubernetes/authorize_proxy_user"))
    requests = item.make(world)
    client.send(next(requests))

    for _ in range(3):
        request = next(requests)
        with counter.measure() as warm:
            response = client.send(request)
        assert response.status == request.expect == 201, response.body
        assert warm.dynamodb <= 3 and warm.kms == 0, warm.sequence()


def test_capacity_units_come_from_the_items_touched(root_token, world, counter):
    # Given the root user's PAT (one small item) and a project with members
    client = InProcess()
    request = Request("GET", "/user", {"PRIVATE-TOKEN": root_token})
    client.send(request)
    with counter.measure() as read:
        assert client.send(request).status == 200
    # Then a strongly consistent GetItem of an item under 4 KB is one read unit, no write unit
    assert (read.read_units, read.write_units) == (1.0, 0.0)
    assert read.calls[0].capacity.read == 1.0

    # When a write adds a member (a plain conditional write or a transaction)
    project = world.project("capacity")
    joiner = world.user("joiner")
    add = Request(
        "POST",
        f"/projects/{project['id']}/members",
        {"PRIVATE-TOKEN": root_token},
        {"user_id": joiner.id, "access_level": 30},
    )
    with counter.measure() as write:
        assert client.send(add).status == 201
    writes = [call for call in write.calls if call.operation in ("PutItem", "UpdateItem", "TransactWriteItems")]
    assert writes and write.write_units >= 1
    for call in writes:  # every write of small items: 1 unit per item, twice that in a transaction
        assert call.capacity.write >= 1
        if call.operation == "TransactWriteItems":
            assert call.capacity.write % 2 == 0
    assert write.probe_seconds > 0


def test_the_docs_asset_scenario_serves_swagger_ui_without_aws(root_token, counter):
    client = InProcess()
    world = World(client, template_routes(), "assets", root_token=root_token)
    item = next(s for s in SCENARIOS if s.key == route_key("GET", "/docs/assets/{file}"))
    request = next(item.make(world))
    client.send(request)

    with counter.measure() as warm:
        response = client.send(request)

    assert response.status == request.expect == 200
    assert warm.dynamodb == 0 and warm.kms == 0
