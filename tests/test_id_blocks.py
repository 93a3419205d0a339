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


def test_agent_token_ids_follow_creation_order_across_containers(table):
    """Tokens are listed by ascending id among equals: ids in creation order, whichever container."""
    first, second = ids.IdBlocks(), ids.IdBlocks()
    taken = [container.take(table, "agent_token") for container in (first, second, first, second, second, first)]
    assert taken == list(range(1, 7))
