"""testkit/capacity.py against the examples of DynamoDB's Developer Guide ("DynamoDB item sizes and
formats", "Capacity unit consumption for read / write operations")."""

from __future__ import annotations

import base64

import pytest

from testkit import capacity


def test_strings_are_their_utf8_bytes_plus_the_name():
    assert capacity.item_size({"pk": {"S": "PAT#ab"}}) == 2 + 6
    assert capacity.item_size({"n": {"S": "é"}}) == 1 + 2  # two UTF-8 bytes


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("0", 2),
        ("7", 2),
        ("12", 2),
        ("123", 3),
        ("1234", 3),
        ("12345", 4),
        ("1000", 2),  # trailing zeros trimmed: one significant digit
        ("0.0012", 2),  # leading zeros trimmed
        ("-12.5", 3),
        ("12345678901234567890", 11),
    ],
)
def test_numbers_are_one_byte_per_two_significant_digits_plus_one(number, size):
    assert capacity.number_size(number) == size
    assert capacity.item_size({"id": {"N": number}}) == 2 + size


def test_binary_null_and_booleans():
    raw = b"\x00\x01\x02\x03\x04"
    assert capacity.item_size({"b": {"B": base64.b64encode(raw).decode()}}) == 1 + 5
    assert capacity.item_size({"b": {"B": raw}}) == 1 + 5
    assert capacity.item_size({"flag": {"BOOL": True}, "gone": {"NULL": True}}) == (4 + 1) + (4 + 1)


def test_lists_and_maps_cost_three_bytes_plus_one_per_element():
    assert capacity.item_size({"l": {"L": []}}) == 1 + 3
    assert capacity.item_size({"m": {"M": {}}}) == 1 + 3
    # a list of two strings: 3 + (1 + 1) + (2 + 1)
    assert capacity.item_size({"l": {"L": [{"S": "a"}, {"S": "bc"}]}}) == 1 + 3 + 2 + 3
    # a map: each element's name counts too
    assert capacity.item_size({"m": {"M": {"ab": {"N": "5"}}}}) == 1 + 3 + (2 + 2 + 1)
    assert capacity.item_size({"s": {"SS": ["ab", "c"]}, "n": {"NS": ["12", "345"]}}) == (1 + 3) + (1 + 2 + 3)


def test_read_units_round_each_item_up_to_4_kb():
    # "reading a 3,500-byte item consumes the same throughput as reading a 4 KB item"
    assert capacity.read_units(3500) == 1
    # "if your item size is 8 KB, you require 2 read units to sustain one strongly consistent read,
    #  1 read unit if you choose eventually consistent reads, or 4 read units for a transactional read"
    assert capacity.read_units(8 * 1024) == 2
    assert capacity.read_units(8 * 1024, consistent=False) == 1
    assert capacity.read_units(8 * 1024, transactional=True) == 4
    # "If you read a 10 KB item, DynamoDB rounds the item size to 12 KB"
    assert capacity.read_units(10 * 1024) == 3
    assert capacity.read_units(0) == 1  # an item that is not there costs the minimum


def test_a_batch_get_rounds_every_item_but_a_query_rounds_the_sum():
    def item(size: int) -> dict:
        return {"p": {"S": "x" * (size - 1)}}

    # "if BatchGetItem reads a 1.5 KB item and a 6.5 KB item, DynamoDB calculates the size as 12 KB"
    assert capacity.batch_get([item(1536), item(6656)]).read == 3
    # A Query of the same two items: 8 KB in all, two units
    assert capacity.query([item(1536), item(6656)]).read == 2
    # ten items of 400 bytes: 4,000 bytes, one unit
    assert capacity.query([item(400)] * 10).read == 1
    assert capacity.query([]).read == 1  # an empty page still costs the minimum


def test_write_units_are_1_kb_blocks_of_the_larger_image_doubled_in_transactions():
    small, big = {"p": {"S": "x" * 499}}, {"p": {"S": "x" * 3583}}  # 500 bytes, 3.5 KB
    assert capacity.write(None, small).write == 1
    assert capacity.write(None, big).write == 4  # 3.5 KB rounds up to 4 KB
    assert capacity.write(big, small).write == 4  # the larger of before and after
    assert capacity.write(small, None).write == 1  # a delete: the deleted item
    assert capacity.write(None, None).write == 1  # nothing there: the minimum
    assert capacity.write(None, small, transactional=True).write == 2


def test_capacities_add_up():
    total = capacity.Capacity(read=1) + capacity.Capacity(read=0.5, write=2)
    assert (total.read, total.write, total.total) == (1.5, 2, 3.5)


def test_a_hot_items_ceiling_is_the_partition_limit_over_its_units_per_request():
    from cluster_agents.store.ids import MAX_BLOCK

    from bench.scale_report import HOT_KEYS, ceiling, requests_per_copy

    counter = next(hot for hot in HOT_KEYS if hot.label.startswith("`COUNTER / agent`"))
    group = next(hot for hot in HOT_KEYS if hot.label.startswith("`CIACCESS#group"))
    stats = next(hot for hot in HOT_KEYS if hot.touch == "transaction write")
    pat = next(hot for hot in HOT_KEYS if hot.label.startswith("`PAT#"))
    assert ceiling(counter, 24) == 1000 * MAX_BLOCK  # one write unit per block of ids
    assert ceiling(stats, 33) == 500  # one write unit a creation, twice that in a transaction
    assert ceiling(pat, 350) == 3000  # one strongly consistent read unit
    assert ceiling(group, 65) == 6000  # half a unit: eventually consistent
    assert ceiling(group, 20_000) == 1200  # five 4 KB blocks, eventually consistent
    # With each container's copy: one read serves the requests that container handles in a second.
    assert group.copied_for == "GET /job/allowed_agents"
    assert ceiling(group, 20_000, per_touch=requests_per_copy(0.020)) == 1200 * 50


def test_the_hot_key_section_counts_the_requests_a_container_serves_from_its_copy():
    from bench.scale_report import hot_keys

    sizes = {"`CIACCESS#group#<id> / ALL` (Agents)": 43_000}
    (row,) = [
        line for line in hot_keys(sizes, {"GET /job/allowed_agents": 0.020}) if line.startswith("| `CIACCESS#group")
    ]
    assert "0.11 RCU (eventual read, one per 50 requests)" in row and "| 27,272 | 10,000/s | above |" in row
    (row,) = [
        line for line in hot_keys(sizes) if line.startswith("| `CIACCESS#group")
    ]  # no duration measured: no copy counted
    assert "| 545 | 10,000/s | **below** |" in row


def test_the_cost_model_adds_lambda_api_gateway_and_dynamodb():
    from bench.scale_report import RouteCost

    parts = RouteCost("GET /x", seconds=0.010, memory_mb=1024, read_units=2, write_units=1).per_million()
    assert round(parts["Lambda"], 4) == round(0.01 * 0.0000133334 * 1e6 + 0.20, 4)
    assert parts["API Gateway"] == 3.50
    assert round(parts["DynamoDB"], 4) == round(2 * 0.125 + 0.625, 4)
    assert parts["total"] == parts["Lambda"] + parts["API Gateway"] + parts["DynamoDB"]


def test_the_load_section_reads_locusts_statistics(tmp_path):
    from bench.load import LoadRun, _stats, section

    path = tmp_path / "run_stats.csv"
    path.write_text(
        "Type,Name,Request Count,Failure Count,Median Response Time,Requests/s,50%,99%\n"
        "GET,GET agent_info,90,0,10,9.0,10,40\n"
        "GET,GET /user,10,0,12,1.0,12,30\n"
        ",Aggregated,100,0,10,10.0,10,40\n",
        encoding="utf-8",
    )
    routes = _stats(path)
    assert [(r.name, r.requests, r.p50_ms, r.p99_ms) for r in routes] == [
        ("GET agent_info", 90, 10, 40),
        ("GET /user", 10, 12, 30),
    ]
    text = "\n".join(
        section(
            LoadRun(
                seconds=10,
                users=2,
                workers=2,
                max_requests=100,
                routes=routes,
                invariants="1 items",
                invariants_ok=True,
            )
        )
    )
    assert "**100 requests, 0 errors**" in text and "**5.0 per worker**" in text and "**clean**" in text
