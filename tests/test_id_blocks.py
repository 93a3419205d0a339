"""Ids from blocks reserved per container (store/ids.py): unique under any interleaving of
containers, increasing within one, and no more DynamoDB calls than one per block."""

from __future__ import annotations

import pytest
from cluster_agents.store import dynamo, ids


@pytest.fixture
def table(aws):
    from cluster_agents.settings import get_settings

    return get_settings().agents_table


def _counter(table: str) -> int:
    item = dynamo.get(table, "COUNTER", "agent")
    return item["value"] if item else 0


def test_a_fresh_container_takes_the_counters_next_id_and_then_counts_on(table):
    taken = [ids.next_id(table, "agent") for _ in range(10)]
    assert taken == list(range(1, 11))
    assert _counter(table) == 15  # blocks of 1, 2, 4, 8: the last one half used


def test_blocks_double_up_to_the_largest_so_a_busy_container_refills_rarely(table, monkeypatch):
    refills = []
    reserve = ids.reserve_ids
    monkeypatch.setattr(ids, "reserve_ids", lambda t, e, n: refills.append(n) or reserve(t, e, n))
    for _ in range(200):
        ids.next_id(table, "agent")
    assert refills[:6] == [1, 2, 4, 8, 16, 32]
    assert max(refills) == ids.MAX_BLOCK
    assert len(refills) == 5 + -(-(200 - 31) // ids.MAX_BLOCK)


def test_containers_interleaving_never_share_an_id_and_each_hands_them_out_in_order(table):
    first, second = ids.IdBlocks(), ids.IdBlocks()
    taken = {"first": [], "second": []}
    for n in range(300):
        name, blocks = ("first", first) if n % 3 else ("second", second)
        taken[name].append(blocks.take(table, "agent"))
    everything = taken["first"] + taken["second"]
    assert len(set(everything)) == len(everything)
    assert all(value > 0 for value in everything)
    assert taken["first"] == sorted(taken["first"]) and taken["second"] == sorted(taken["second"])


def test_an_id_reserved_outside_the_blocks_is_never_handed_out(table):
    ids.next_id(table, "agent")  # block [1]
    last = ids.reserve_ids(table, "agent", 5)  # someone else takes 2..6
    assert last == 6
    assert ids.next_id(table, "agent") == 7


def test_a_new_container_forgets_the_blocks(table):
    assert [ids.next_id(table, "agent") for _ in range(2)] == [1, 2]  # blocks [1], [2, 3]
    ids.id_blocks.cache_clear()
    assert ids.next_id(table, "agent") == 4  # 3 was this container's: skipped, never reused


def test_an_agents_tokens_are_numbered_in_creation_order_across_containers(api, world, table, monkeypatch):
    """Never-used tokens are listed by ascending id, oldest first: a token made from a container's
    block below the agent's last token (made by another container from a later block) takes a
    fresh id from the counter instead, so the agent's ids still follow creation order."""
    from tests.test_agent_tokens import create, new_token

    project = world.project("order")
    agent = create(api, project["id"], "ordered")
    path = f"/projects/{project['id']}/cluster_agents/{agent['id']}/tokens"
    first, second = ids.IdBlocks(), ids.IdBlocks()
    for container in (first, second, first, second):  # first now holds a block below second's
        container.take(table, "agent_token")
    fresh: list[int] = []
    reserve = ids.reserve_ids
    monkeypatch.setattr(ids, "reserve_ids", lambda t, e, n: fresh.append(n) or reserve(t, e, n))
    monkeypatch.setattr(ids, "id_blocks", lambda: second)
    older = new_token(api, path, "older")
    monkeypatch.setattr(ids, "id_blocks", lambda: first)
    newer = new_token(api, path, "newer")

    assert fresh == [1]  # first's block id was below the older token's: one id from the counter
    assert newer["id"] > older["id"]
    assert [token["id"] for token in api.get(path).json()] == [older["id"], newer["id"]]


def test_an_agent_from_before_last_token_id_gets_a_fresh_id_while_it_has_active_tokens(api, world, table, monkeypatch):
    """An agent item without ``last_token_id`` (written before it was kept) and with an active
    token: no block id is known to be above that token, so the counter gives one."""
    from tests.test_agent_tokens import create, new_token

    project = world.project("legacy")
    agent = create(api, project["id"], "legacy")
    path = f"/projects/{project['id']}/cluster_agents/{agent['id']}/tokens"
    older = new_token(api, path, "older")
    dynamo.ddb().update_item(
        TableName=table, Key=dynamo.key(f"AGENT#{agent['id']}", "A"), UpdateExpression="REMOVE last_token_id"
    )
    fresh: list[int] = []
    reserve = ids.reserve_ids
    monkeypatch.setattr(ids, "reserve_ids", lambda t, e, n: fresh.append(n) or reserve(t, e, n))
    ids.next_id(table, "agent_token")  # this container's block now has ids left
    newer = new_token(api, path, "newer")
    assert fresh[-1] == 1 and newer["id"] > older["id"]
    assert [token["id"] for token in api.get(path).json()] == [older["id"], newer["id"]]
    assert dynamo.get(table, f"AGENT#{agent['id']}", "A")["last_token_id"] == newer["id"]
