"""What one agent may put where every agent authorising a project or group meets: the
known fields of a ``ci_access`` entry, at most ``MAX_ENTRY_BYTES``, and only a short one inline in
the shared ``CIACCESS#`` item - so no agent's configuration makes another agent's fail."""

from __future__ import annotations

import json

import boto3
import pytest
from cluster_agents.domain.ci_access import MAX_ENTRY_BYTES
from cluster_agents.store.ci_access import INLINE_LIMIT

from testkit.container import expire_recent_copies
from testkit.counter import RoundTrips
from tests.tables import scan_all
from tests.test_allowed_agents import agents_of, allowed, start_job
from tests.test_kas import _ci_access_of, _entries, configure, create_agent
from tests.test_url_configurations import put_agent


def _largest(padding_key: str = "default_namespace") -> dict:
    """An entry whose stored configuration is exactly MAX_ENTRY_BYTES."""
    overhead = len(json.dumps({padding_key: ""}, separators=(",", ":")))
    return {padding_key: "n" * (MAX_ENTRY_BYTES - overhead)}


def _assert_invariants(aws) -> None:
    from cluster_agents.ops.invariants import check_items

    report = check_items(scan_all(boto3.client("dynamodb"), aws.refs["AgentsTable"]))
    assert report.ok, report.violations


@pytest.fixture
def estate(world, api):
    root = world.group("acme")
    team = world.group("team", parent_id=root["id"])
    config = world.project("kube-config", namespace_id=root["id"])
    app = world.project("app", namespace_id=team["id"])
    developer = world.user("developer")
    world.member("project", app["id"], developer, 30)
    return {"root": root, "team": team, "config": config, "app": app, "developer": developer}


@pytest.mark.slow
def test_a_hundred_and_twenty_agents_with_the_largest_entries_all_authorise_one_group(estate, aws, api):
    """Before: every entry lived in the group's one 400 KB item, so about 97 agents with 4 KB
    entries filled it and the next agent's configuration was refused - by the others' size."""
    ddb, table = boto3.client("dynamodb"), aws.refs["AgentsTable"]
    largest = {"id": "acme/team", **_largest()}
    agent_ids = [put_agent(ddb, table, estate["config"]["id"], f"agent-{number}") for number in range(120)]
    for agent_id in agent_ids:
        response = configure(agent_id, {"ci_access": {"groups": [largest]}})
        assert response.status == 204, (agent_id, response.text)

    entries = _entries(aws, "group", estate["team"]["id"])
    assert set(entries) == set(agent_ids)
    assert all(set(entry) == {"p"} for entry in entries.values())  # the configurations are in the mirrors
    token = start_job(api, estate["app"]["id"], estate["developer"].id)["token"]
    expected = {agent_id: {"default_namespace": largest["default_namespace"]} for agent_id in agent_ids}
    assert agents_of(allowed(token)) == expected
    _assert_invariants(aws)


def test_an_entry_above_the_bound_is_refused_for_its_agent_alone(estate, aws, api):
    first = create_agent(api, estate["config"]["id"], "first")["id"]
    second = create_agent(api, estate["config"]["id"], "second")["id"]
    assert configure(first, {"ci_access": {"groups": [{"id": "acme/team", **_largest()}]}}).status == 204
    over = _largest()
    over["default_namespace"] += "n"
    response = configure(
        second, {"ci_access": {"projects": [{"id": "acme/team/app"}], "groups": [{"id": "ACME/team", **over}]}}
    )
    assert (response.status, response.json()) == (
        400,
        {
            "message": f"400 Bad request - ci_access: the entry for group ACME/team is too large "
            f"(maximum is {MAX_ENTRY_BYTES} bytes)"
        },
    )
    assert _ci_access_of(second) == {}  # nothing of that configuration is written
    small = {"id": "acme/team", "environments": ["production"]}
    assert configure(second, {"ci_access": {"groups": [small]}}).status == 204  # what is bounded passes
    assert set(_entries(aws, "group", estate["team"]["id"])) == {first, second}
    _assert_invariants(aws)


def test_only_the_fields_gitlab_knows_are_kept(estate, api):
    agent = create_agent(api, estate["config"]["id"])["id"]
    entry = {
        "id": "acme/team/app",
        "default_namespace": "ns",
        "access_as": {"ci_job": {}},
        "environments": ["review/*"],
        "protected_branches_only": True,
        "unknown": "x" * 100_000,
        "annotations": {"a": 1},
    }
    assert configure(agent, {"ci_access": {"projects": [entry]}}).status == 204  # 100 KB of unknown: dropped
    assert list(_ci_access_of(agent).values()) == [
        {
            "access_as": {"ci_job": {}},
            "environments": ["review/*"],
            "default_namespace": "ns",
            "protected_branches_only": True,
        }
    ]


def test_short_configurations_are_inline_and_long_ones_in_the_mirror(estate, aws, api):
    agent = create_agent(api, estate["config"]["id"])["id"]
    overhead = len('{"default_namespace":""}')
    short = {"default_namespace": "s" * (INLINE_LIMIT - overhead)}
    long = {"default_namespace": "l" * (INLINE_LIMIT - overhead + 1)}
    team = estate["team"]["id"]
    for configuration, inline in ((short, True), (long, False), (short, True)):
        assert configure(agent, {"ci_access": {"groups": [{"id": "acme/team", **configuration}]}}).status == 204
        (entry,) = _entries(aws, "group", team).values()
        assert ("c" in entry) is inline
        assert _ci_access_of(agent) == {("group", team): configuration}
        _assert_invariants(aws)
    assert configure(agent, {"ci_access": {"groups": [{"id": "acme/team", **long}]}}).status == 204
    assert api.delete(f"/projects/{estate['config']['id']}/cluster_agents/{agent}").status == 204
    assert _entries(aws, "group", team) == {}
    _assert_invariants(aws)


def test_a_long_configuration_costs_the_job_one_more_read_only_when_one_authorises_it(estate, api):
    short_agent = create_agent(api, estate["config"]["id"], "short")["id"]
    long_agent = create_agent(api, estate["config"]["id"], "long")["id"]
    assert configure(short_agent, {"ci_access": {"groups": [{"id": "acme/team"}]}}).status == 204
    token = start_job(api, estate["app"]["id"], estate["developer"].id)["token"]
    assert agents_of(allowed(token)) == {short_agent: {}}  # warms up
    with RoundTrips().measure() as short:
        assert agents_of(allowed(token)) == {short_agent: {}}
    assert [call.operation for call in short.calls] == ["GetItem", "BatchGetItem", "Query"]

    assert configure(long_agent, {"ci_access": {"groups": [{"id": "acme/team", **_largest()}]}}).status == 204
    expire_recent_copies()  # every source's item read, not only the one the configuration wrote
    with RoundTrips().measure() as long:
        assert agents_of(allowed(token)) == {short_agent: {}, long_agent: _largest()}
    assert [(call.operation, call.keys) for call in long.calls] == [
        ("GetItem", "JOB#"),
        ("BatchGetItem", "USER#,MEMBERS#x3,CIACCESS#x3"),
        ("BatchGetItem", "AGENT#"),
        ("Query", "PROJECT#"),
    ]
