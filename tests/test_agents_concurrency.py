"""Agents and agent tokens under concurrency, through the local API (make serve): four worker
processes racing like Lambda containers over a moto server holding the template's tables.

- 32 token creates on one agent at once -> exactly two 201s, every other one the limit's 400;
- 30 registrations of one name at once -> exactly one 201, every other one ``Name has already
  been taken``;
- revoking one token many times at once -> the counter moves once;
- deleting an agent while tokens are created and revoked -> nothing of it is left behind.
Requests answered 429/503 (the store was busy) are retried, as GitLab's clients do."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import E2E_ROOT_TOKEN
from tests.tables import scan_all

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local_api")]

LIMIT = {"message": "400 Bad request - An agent can have only two active tokens at a time"}
TAKEN = {"message": '400 Bad request - ["Name has already been taken"]'}


def _store(local_api: Any) -> Any:
    return local_api.store_client()


def _scan(store: Any) -> list[dict[str, Any]]:
    return list(scan_all(store, "AgentsTable"))


def _of_project(items: list[dict[str, Any]], project_id: int, agent_ids: set[int]) -> list[dict[str, Any]]:
    """The items of one project's agents (what the invariant checker should see of it)."""
    partitions = {f"AGENT#{agent_id}" for agent_id in agent_ids}
    return [
        i
        for i in items
        if i["pk"] == f"PROJECT#{project_id}"
        or i["pk"] in partitions
        or (i["pk"].startswith("AGENTTOKEN#") and i.get("agent_id") in agent_ids)
    ]


def _session() -> requests.Session:
    session = requests.Session()
    session.headers["PRIVATE-TOKEN"] = E2E_ROOT_TOKEN
    return session


def _send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """One request, retried while the store is busy (429/503 with Retry-After)."""
    for _ in range(20):
        response = session.request(method, url, timeout=60, **kwargs)
        if response.status_code not in (429, 503):
            return response
        time.sleep(min(float(response.headers.get("Retry-After", "1")), 1.0) / 4)
    return response


def _race(calls: list[Callable[[requests.Session], requests.Response]]) -> list[tuple[int, Any]]:
    """Run every call at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        session = _session()
        barrier.wait()
        response = call(session)
        return response.status_code, (response.json() if response.content else None)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def project(local_api) -> dict:
    made = _session().post(f"{local_api.base_url}/projects", json={"name": f"race-{uuid.uuid4().hex[:8]}"}, timeout=60)
    assert made.status_code == 201, made.text
    return made.json()


def _agent(local_api, project: dict, name: str) -> dict:
    url = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    made = _send(_session(), "POST", url, json={"name": name})
    assert made.status_code == 201, made.text
    return made.json()


def test_concurrent_token_creates_never_pass_the_limit(local_api, project):
    from cluster_agents.ops.invariants import check_items

    assert local_api.workers >= 4
    agent = _agent(local_api, project, "racer")
    url = f"{local_api.base_url}/projects/{project['id']}/cluster_agents/{agent['id']}/tokens"
    results = _race([lambda s, n=n: _send(s, "POST", url, json={"name": f"token-{n}"}) for n in range(32)])
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 2, 400: 30}, statuses
    assert all(body == LIMIT for status, body in results if status == 400)
    created = sorted(body["id"] for status, body in results if status == 201)
    listed = _send(_session(), "GET", url).json()
    assert sorted(t["id"] for t in listed) == created

    items = _scan(_store(local_api))
    agent_item = next(i for i in items if i["pk"] == f"AGENT#{agent['id']}" and i["sk"] == "A")
    assert agent_item["active_tokens"] == 2
    assert len([i for i in items if i["pk"] == f"AGENT#{agent['id']}" and i["sk"].startswith("AT#")]) == 2
    assert len([i for i in items if i["pk"].startswith("AGENTTOKEN#") and i.get("agent_id") == agent["id"]]) == 2
    report = check_items(_of_project(items, project["id"], {agent["id"]}))
    assert report.ok, report.violations

    # Revoking one token many times at once frees exactly one slot.
    revoke = f"{url}/{created[0]}"
    assert Counter(status for status, _ in _race([lambda s: _send(s, "DELETE", revoke)] * 12)) == {204: 12}
    after = _race([lambda s, n=n: _send(s, "POST", url, json={"name": f"again-{n}"}) for n in range(12)])
    assert Counter(status for status, _ in after) == {201: 1, 400: 11}
    items = _scan(_store(local_api))
    assert next(i for i in items if i["pk"] == f"AGENT#{agent['id']}" and i["sk"] == "A")["active_tokens"] == 2
    assert check_items(_of_project(items, project["id"], {agent["id"]})).ok


def test_concurrent_registrations_of_one_name(local_api, project):
    url = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    results = _race([lambda s: _send(s, "POST", url, json={"name": "same-name"})] * 30)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 400: 29}, statuses
    assert all(body == TAKEN for status, body in results if status == 400)
    listed = _send(_session(), "GET", url)
    assert [a["name"] for a in listed.json()] == ["same-name"]
    assert listed.headers["X-Total"] == "1"


def test_deleting_an_agent_while_its_tokens_change_leaves_nothing(local_api, project):
    from cluster_agents.ops.invariants import check_items

    agents = [_agent(local_api, project, f"doomed-{n}") for n in range(3)]
    base = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    calls: list[Callable[[requests.Session], requests.Response]] = []
    for agent in agents:
        tokens = f"{base}/{agent['id']}/tokens"
        first = _send(_session(), "POST", tokens, json={"name": "first"}).json()
        calls += [lambda s, u=tokens, n=n: _send(s, "POST", u, json={"name": f"t{n}"}) for n in range(6)]
        calls += [lambda s, u=f"{tokens}/{first['id']}": _send(s, "DELETE", u)] * 2
        calls += [lambda s, u=f"{base}/{agent['id']}": _send(s, "DELETE", u)] * 2
    results = _race(calls)
    assert all(status in (201, 204, 400, 404) for status, _ in results), Counter(s for s, _ in results)
    assert sum(1 for status, _ in results if status >= 500) == 0

    ids = {agent["id"] for agent in agents}
    for agent in agents:
        assert _send(_session(), "GET", f"{base}/{agent['id']}").status_code == 404
    items = _scan(_store(local_api))
    left = [i for i in _of_project(items, project["id"], ids) if i["sk"] != "#STATS"]
    assert left == []
    stats = next(i for i in items if i["pk"] == f"PROJECT#{project['id']}" and i["sk"] == "#STATS")
    assert stats["agent_count"] == 0
    assert check_items(_of_project(items, project["id"], ids)).ok
