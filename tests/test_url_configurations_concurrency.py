"""One URL configuration per agent under concurrency, through the local API (make serve): four
worker processes racing like Lambda containers, over a moto server holding the template's tables.

Concurrent creates on one agent -> exactly one 201, every other one the GitLab 400; concurrent
deletes of it -> exactly one 204, every other one 404; the table stays consistent throughout."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import E2E_ROOT_TOKEN

# One xdist worker holds the shared local API (the marker exists only with xdist).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local_api")]

RACERS = 24
EXISTS = {"message": "400 Bad request - URL configuration already exists for this agent"}


def _store(local_api: Any) -> Any:
    return local_api.store_client()


def _partition(store: Any, pk: str) -> list[dict[str, Any]]:
    from cluster_agents.store.dynamo import from_item

    response = store.query(
        TableName="AgentsTable",
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ConsistentRead=True,
    )
    return [from_item(item) for item in response["Items"]]


def _race(calls: list) -> list[tuple[int, Any]]:
    """Run every call at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        session = requests.Session()
        session.headers["PRIVATE-TOKEN"] = E2E_ROOT_TOKEN
        barrier.wait()
        response = call(session)
        return response.status_code, (response.json() if response.content else None)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def _consistent(store: Any, agent_id: int, project_id: int) -> None:
    from cluster_agents.ops.invariants import check_items
    from cluster_agents.store.dynamo import from_item

    items = _partition(store, f"AGENT#{agent_id}") + _partition(store, f"PROJECT#{project_id}")
    entry = store.get_item(
        TableName="AgentsTable",
        ConsistentRead=True,  # its receptive-agents index entry
        Key={"pk": {"S": "RECEPTIVE"}, "sk": {"S": f"AGENT#{agent_id:012d}"}},
    ).get("Item")
    items += [from_item(entry)] if entry else []
    report = check_items(items)
    assert report.ok, report.violations


def test_concurrent_creates_and_deletes_on_one_agent(local_api):
    base = local_api.base_url
    root = requests.Session()
    root.headers["PRIVATE-TOKEN"] = E2E_ROOT_TOKEN
    project = root.post(f"{base}/projects", json={"name": f"race-{uuid.uuid4().hex[:8]}"}, timeout=30)
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    store = _store(local_api)
    made = root.post(f"{base}/projects/{project_id}/cluster_agents", json={"name": "racer"}, timeout=30)
    assert made.status_code == 201, made.text
    agent_id = made.json()["id"]
    url = f"{base}/projects/{project_id}/cluster_agents/{agent_id}/url_configurations"

    # When many creates race on one agent
    results = _race(
        [
            lambda s, i=i: s.post(url, json={"url": f"grpcs://agent-{i}.example.com:443"}, timeout=60)
            for i in range(RACERS)
        ]
    )

    # Then exactly one wins and every other one gets GitLab's 400
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [400] * (RACERS - 1), results
    winner = next(body for status, body in results if status == 201)
    assert all(body == EXISTS for status, body in results if status == 400)
    items = _partition(store, f"AGENT#{agent_id}")
    configurations = [item for item in items if item["sk"] == "U"]
    assert len(configurations) == 1
    assert (configurations[0]["id"], configurations[0]["url"]) == (winner["id"], winner["url"])
    assert next(item for item in items if item["sk"] == "A")["is_receptive"] is True
    index = _partition(store, f"PROJECT#{project_id}")
    assert next(item for item in index if item["sk"] == "AGENT#racer")["is_receptive"] is True
    assert root.get(url, timeout=30).json() == [winner]
    _consistent(store, agent_id, project_id)

    # When many deletes race on it
    results = _race([lambda s: s.delete(f"{url}/{winner['id']}", timeout=60) for _ in range(RACERS)])

    # Then exactly one deletes it, the others find nothing, and the agent is no longer receptive
    statuses = sorted(status for status, _ in results)
    assert statuses == [204] + [404] * (RACERS - 1), results
    assert all(body == {"message": "404 Not Found"} for status, body in results if status == 404)
    items = _partition(store, f"AGENT#{agent_id}")
    assert not [item for item in items if item["sk"] == "U"]
    assert next(item for item in items if item["sk"] == "A")["is_receptive"] is False
    _consistent(store, agent_id, project_id)

    # And the freed slot is again won exactly once
    results = _race([lambda s: s.post(url, json={"url": "grpc://localhost:8080"}, timeout=60) for _ in range(RACERS)])
    assert sorted(status for status, _ in results) == [201] + [400] * (RACERS - 1), results
    assert len([item for item in _partition(store, f"AGENT#{agent_id}") if item["sk"] == "U"]) == 1
    _consistent(store, agent_id, project_id)
