"""DynamoDB round trips of a warm request (issue 7: reads at most 3, writes at most 4, a
transaction counting once), counted as the benchmark counts them (bench/counter.py), for the
routes that needed more than that: each one's exact sequence of calls, so a change that adds a
round trip shows here and not only in BENCHMARKS.md."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest

from bench.clients import InProcess, Request
from bench.counter import RoundTrips

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

    assert operations(first) == ["GetItem", "GetItem", "UpdateItem", "TransactWriteItems"]
    assert operations(given) == operations(first)
    assert first.dynamodb <= WRITE_LIMIT
