"""The job side's copies of CIACCESS# items (store/recent_copies.py): a container reads an item at
most once a second; a change another container makes is seen within that second, one this
container makes at once; at most CAPACITY copies."""

from __future__ import annotations

import pytest

from testkit.counter import RoundTrips
from tests.test_allowed_agents import agents_of, allowed, estate, job_of  # noqa: F401 (estate: a fixture)
from tests.test_kas import configure, create_agent


def _ci_access_reads(calls) -> int:
    """How many CIACCESS# items the calls asked for."""
    total = 0
    for call in calls.calls:
        for part in call.keys.split(","):
            if part.startswith("CIACCESS#"):
                total += int(part.partition("x")[2] or 1)
    return total


@pytest.fixture
def copies_clock(monkeypatch):
    """The clock the copies are aged by, moved by hand."""
    from cluster_agents.store import ci_access

    now = [1_000.0]
    monkeypatch.setattr(ci_access.time, "monotonic", lambda: now[0])
    return now


def test_unit_fresh_expired_absent_forgotten_and_capacity():
    from cluster_agents.store.recent_copies import CAPACITY, SECONDS, RecentCopies

    copies = RecentCopies()
    one, two, none = ("CIACCESS#group#1", "ALL"), ("CIACCESS#group#2", "ALL"), ("CIACCESS#project#3", "ALL")
    copies.keep([one, two, none], {one: {"a1": {"p": 1}}, two: {"a2": {"p": 2}}}, read_at=10.0)
    assert copies.fresh([one, two, none], now=10.0 + SECONDS / 2) == {
        one: {"a1": {"p": 1}},
        two: {"a2": {"p": 2}},
        none: None,
    }
    assert copies.fresh([one], now=10.0 + SECONDS) == {}
    copies.forget([two])
    assert copies.fresh([one, two], now=10.5) == {one: {"a1": {"p": 1}}}
    many = [(f"CIACCESS#group#{number}", "ALL") for number in range(100, 100 + CAPACITY)]
    copies.keep(many, {}, read_at=10.0)
    kept = copies.fresh([one, none, *many], now=10.5)
    assert len(kept) == CAPACITY and one not in kept and none not in kept  # the least recently read went


def test_a_container_reads_each_item_at_most_once_a_second(estate, api, copies_clock):  # noqa: F811
    agent = create_agent(api, estate.kube["id"], "fleet")
    assert configure(agent["id"], {"ci_access": {"groups": [{"id": "acme/team"}]}}).status == 204
    token = job_of(api, estate)["token"]
    with RoundTrips().measure() as first:
        assert set(agents_of(allowed(token))) == {agent["id"]}
    with RoundTrips().measure() as again:
        for _ in range(5):
            assert set(agents_of(allowed(token))) == {agent["id"]}
    copies_clock[0] += 1.0
    with RoundTrips().measure() as a_second_later:
        assert set(agents_of(allowed(token))) == {agent["id"]}
    assert _ci_access_reads(first) == 4  # app, web, team, acme
    assert _ci_access_reads(again) == 0
    assert _ci_access_reads(a_second_later) == 4


def test_another_containers_change_is_seen_within_the_second(estate, api, aws, copies_clock):  # noqa: F811
    """A change written by another container (here: straight to the table, as the agent server's
    function would) is not seen while the copy is fresh, and is seen once it is a second old."""
    import boto3

    agent = create_agent(api, estate.kube["id"], "fleet")
    assert configure(agent["id"], {"ci_access": {"groups": [{"id": "acme/team"}]}}).status == 204
    token = job_of(api, estate)["token"]
    assert set(agents_of(allowed(token))) == {agent["id"]}
    key = {"pk": {"S": f"CIACCESS#group#{estate.team['id']}"}, "sk": {"S": "ALL"}}
    boto3.client("dynamodb").update_item(
        TableName=aws.refs["AgentsTable"],
        Key=key,
        UpdateExpression="REMOVE #entry",
        ExpressionAttributeNames={"#entry": f"a{agent['id']}"},
    )
    copies_clock[0] += 0.9
    assert set(agents_of(allowed(token))) == {agent["id"]}
    copies_clock[0] += 0.1
    assert agents_of(allowed(token)) == {}


def test_this_containers_own_writes_are_read_back_at_once(estate, api, copies_clock):  # noqa: F811
    """A configuration and an agent's deletion made through this container forget its copies."""
    agent = create_agent(api, estate.kube["id"], "fleet")
    token = job_of(api, estate)["token"]
    assert agents_of(allowed(token)) == {}
    assert (
        configure(agent["id"], {"ci_access": {"groups": [{"id": "acme/team", "default_namespace": "x"}]}}).status == 204
    )
    assert agents_of(allowed(token)) == {agent["id"]: {"default_namespace": "x"}}
    assert configure(agent["id"], {"ci_access": {"groups": [{"id": "acme/team"}]}}).status == 204
    assert agents_of(allowed(token)) == {agent["id"]: {}}
    assert api.delete(f"/projects/{estate.kube['id']}/cluster_agents/{agent['id']}").status == 204
    assert agents_of(allowed(token)) == {}
