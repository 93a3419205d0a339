"""BENCHMARKS.md's internet-scale sections: deep pages, hot keys with their ceilings,
the load run and the cost per million requests, all from this run's measurements.

``hot_items(ddb, container)`` reads, at the end of the round-trip phase, the items that many
requests share, so their ceilings come from their real sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testkit import capacity

PARTITION_READS = 3000  # read units per second one partition (so one item) serves
PARTITION_WRITES = 1000  # write units per second
# Public prices (us-east-1, on-demand, as published in 2025): the assumptions of the cost table.
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_request": 0.20 / 1e6,
    "api_gateway_rest_request": 3.50 / 1e6,  # first 333 million a month
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand read request unit (strongly consistent, 4 KB)
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand write request unit (1 KB)
}


@dataclass(frozen=True)
class HotKey:
    label: str  # the item, as its key
    table: str  # "agents" | "directory"
    pk_prefix: str
    sk: str | None  # the exact sort key, or None for "any"
    shared_by: str  # which requests touch it
    touch: str  # "read" | "eventual read" | "write" | "transaction write"
    needed: int  # requests per second a large instance needs on this item (0: no figure given)
    reason: str  # why the ceiling is what it is, and what happens past it
    requests_per_touch: int = 1  # requests served by one touch of the item (an id block: its size)
    copied_for: str = ""  # the route whose containers keep a copy a second: one read per container-second


def _id_block() -> int:
    from cluster_agents.store.ids import MAX_BLOCK

    return MAX_BLOCK


ID_BLOCK = _id_block()
ID_BLOCKS = (
    f"**design changed** (`store/ids.py`): a container reserves a block of ids with one `UpdateItem ADD n` "
    f"and hands them out from memory, the block doubling with each refill from 1 to {ID_BLOCK}, so a busy "
    f"container spends one write unit per {ID_BLOCK} creations (the ceiling is {ID_BLOCK}x one item's, "
    "whatever the number of containers) and a creation makes no call for its id in the common case. Ids stay "
    "unique (atomic `ADD`: reservations never overlap) and increasing within a container; ids a container "
    "reserved and did not use are skipped, and across containers id order is no longer creation order. Past "
    "the ceiling: throttled refills, 429 with `Retry-After`, nothing written."
)

HOT_KEYS = (
    HotKey(
        "`COUNTER / agent` (Agents)",
        "agents",
        "COUNTER",
        "agent",
        "every agent creation, all tenants (`POST /projects/:id/cluster_agents`)",
        "write",
        1000,
        ID_BLOCKS,
        ID_BLOCK,
    ),
    HotKey(
        "`COUNTER / agent_token` (Agents)",
        "agents",
        "COUNTER",
        "agent_token",
        "every agent token creation, all tenants",
        "write",
        1000,
        "**design changed**: id blocks, as for agents. An agent's never-used tokens are listed by ascending id, "
        "oldest first, so its tokens' ids must follow their creation order whichever container made them: the "
        "creating transaction raises the agent item's `last_token_id` on condition that the new id is above it "
        "(`store/agent_tokens.py`). A block id below it (the agent's last token came from another container's "
        "later block) is replaced by one straight from the counter: one more `UpdateItem`, only when two "
        "containers make tokens for the same agent.",
        ID_BLOCK,
    ),
    HotKey(
        "`COUNTER / personal_access_token` (Directory)",
        "directory",
        "COUNTER",
        "personal_access_token",
        "every PAT creation, all tenants",
        "write",
        1000,
        "id blocks, as for agents.",
        ID_BLOCK,
    ),
    HotKey(
        "`COUNTER / job` (Directory)",
        "directory",
        "COUNTER",
        "job",
        "every `POST /admin/ci/jobs` (a test-harness route: GitLab makes jobs itself)",
        "write",
        0,
        "not on a production path (a job with a pipeline raises both its counters in one `UpdateItem`).",
    ),
    HotKey(
        "`PROJECT#<id> / #STATS` (Agents)",
        "agents",
        "PROJECT#",
        "#STATS",
        "agent creations and deletions in one project (in their transaction)",
        "transaction write",
        0,
        "per project: one project creating 500 agents a second is far beyond any GitLab use.",
    ),
    HotKey(
        "`PROJECT#<id>` name index + `#STATS` (Agents)",
        "agents",
        "PROJECT#",
        "#STATS",
        "every agents list of one project (first page: one Query of `#STATS` and the page)",
        "read",
        0,
        "per project; reads past the ceiling are throttled, retried by botocore, then answered 429.",
    ),
    HotKey(
        "`CIACCESS#group#<id> / ALL` (Agents)",
        "agents",
        "CIACCESS#",
        "ALL",
        "every `GET /job/allowed_agents` of a job in a project under that group (BatchGetItem, eventually consistent)",
        "eventual read",
        10000,
        "**design changed**, twice: read eventually consistent (half a unit per 4 KB; `store/ci_access.py`), "
        "and each container keeps what it read for a second (`store/recent_copies.py`), so the item is read "
        "at most once a second per container, however many jobs that container serves. A container serves its "
        "requests one at a time, each lasting the route's modelled warm duration (cost table), so one read "
        "serves a second's worth of them: the ceiling is the partition's read units ÷ one read's units "
        "(the number of containers that can each read it once a second) x the requests one container serves in "
        "that second. A job may miss a ci_access change of the last second (and an eventually consistent "
        "read's lag), as the agent server itself applies a configuration only when it next reads the agent's "
        "repository; a container reads its own writes at once. Besides, the load of a large instance is spread "
        "over its top-level groups, each with its own item on its own partition.",
        copied_for="GET /job/allowed_agents",
    ),
    HotKey(
        "`RECEPTIVE#GENERATION / GENERATION` (Agents), written",
        "agents",
        "RECEPTIVE#GENERATION",
        "GENERATION",
        "every URL configuration create and delete, and the delete of a receptive agent, all tenants (in their "
        "transaction)",
        "transaction write",
        0,
        "**new with the design change** of the receptive list (`store/receptive_index.py`). Receptive agents "
        "are configured one by one by a person or Terraform, nowhere near 500 a second. Two writers that meet "
        "on the item in the same instant collide (TransactionConflict, nothing written): the transaction is "
        "sent again after a short random pause, up to 5 tries, then 503 with `Retry-After`. Past the ceiling: "
        "throttled, 429 with `Retry-After`, nothing written.",
    ),
    HotKey(
        "`RECEPTIVE#GENERATION / GENERATION` (Agents), read",
        "agents",
        "RECEPTIVE#GENERATION",
        "GENERATION",
        "every `GET /internal/kubernetes/receptive_agents` (the agent server's poll; GetItem, eventually consistent)",
        "eventual read",
        0,
        "**design changed**: before, each poll read the whole `RECEPTIVE` index, whose cost grows with the "
        "receptive agents (see Scaling); now it reads this item alone while nothing changed, and the index "
        "once per container after a change. The agent server's replicas poll on a timer, far below the "
        "ceiling.",
    ),
    HotKey(
        "`PAT#<digest> / PAT` (Directory)",
        "directory",
        "PAT#",
        None,
        "every request authenticated by that one token (a busy CI bot)",
        "read",
        0,
        "per token; past it, 429 with `Retry-After`.",
    ),
)


def hot_items(ddb: Any, tables: dict[str, str]) -> dict[str, int]:
    """Size in bytes of one real item of each hot key (the largest found), by label."""
    sizes: dict[str, int] = {}
    for hot in HOT_KEYS:
        found = 0
        start = None
        while True:
            more = {"ExclusiveStartKey": start} if start else {}
            page = ddb.scan(
                TableName=tables[hot.table],
                FilterExpression="begins_with(pk, :p)",
                ExpressionAttributeValues={":p": {"S": hot.pk_prefix}},
                **more,
            )
            for item in page["Items"]:
                if hot.sk is None or item["sk"]["S"] == hot.sk:
                    found = max(found, capacity.item_size(item))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        if found:
            sizes[hot.label] = found
    return sizes


def _reads(hot: HotKey) -> bool:
    return hot.touch in ("read", "eventual read")


def units_per_touch(hot: HotKey, size: int) -> float:
    if _reads(hot):
        return capacity.read_units(size, consistent=hot.touch == "read")
    return capacity.write_units(size, transactional=hot.touch == "transaction write")


def units_per_request(hot: HotKey, size: int, per_touch: int | None = None) -> float:
    return units_per_touch(hot, size) / (per_touch or hot.requests_per_touch)


def ceiling(hot: HotKey, size: int, per_touch: int | None = None) -> int:
    limit = PARTITION_READS if _reads(hot) else PARTITION_WRITES
    return int(limit / units_per_request(hot, size, per_touch))


def requests_per_copy(seconds_per_request: float) -> int:
    """Requests one container serves, one at a time, while its copy of an item is fresh."""
    from cluster_agents.store.recent_copies import SECONDS

    return max(1, int(SECONDS / seconds_per_request))


# ---------------------------------------------------------------- sections
def _n(value: float) -> str:
    return f"{value:,.0f}"


def deep_pages(scales: list) -> list[str]:
    lines = ["## Deep pages", ""]
    deep = next((s for s in scales if s.name.startswith("a deep page") and s.small and s.large), None)
    if deep is None:
        return [*lines, "Not measured in this run.", ""]
    small, large = deep.small.capacity.read, deep.large.capacity.read
    skipped = max(0, deep.large.items_read - deep.small.items_read)
    per_key = (large - small) / skipped if skipped else 0.0
    lines += [
        f"The agents list pages by offset, as GitLab's REST API does: {deep.large_label} first reads the name-index "
        f"items of every agent before it (keys only, but DynamoDB charges a read by the whole items it evaluates; "
        f"eventually consistent, at half the units: offset pages are no snapshot anyway), then its page. Measured: "
        f"{deep.small_label} **{small:g} RCU** ({deep.small.items_read} items, "
        f"{deep.small.dynamodb} round trips), {deep.large_label} **{large:g} RCU** ({deep.large.items_read} items, "
        f"{deep.large.dynamodb} round trips): {deep.capacity_ratio:.1f}x, about {per_key:.3f} RCU per skipped "
        "agent.",
        "",
        f"**The cap**: any page of a project with *A* agents costs at most page 1's units plus {per_key:.3f} x *A* "
        f"RCU (it skips at most the whole index once: {_n(small + per_key * 1000)} RCU at 1,000 agents, "
        f"{_n(small + per_key * 10_000)} at 10,000, a page past the end included). It never grows with anything "
        "stored outside the project.",
        "",
        "Why it is left so: the cost of a page is bounded by the project's own agents (a page past "
        "the end reads at most the whole index once, and `X-Total` comes from `#STATS` without reading it), so it "
        "never grows with the rest of the data. GitLab's clients stay on the first page: the agent server (KAS) "
        "never lists agents; `glab cluster agent list` reads one page; python-gitlab and Terraform walk the pages "
        "one by one through `X-Next-Page`, where a project with hundreds of agents is already unusual (GitLab.com's "
        "agents are a handful per project). Planned design if deep walks ever matter: remember, per container, the "
        "last name of each page served together with a change counter kept in `#STATS` (moved by every creation "
        "and deletion in their existing transaction), so the next page of the same walk starts right after that "
        "name at page 1's cost while staying exact.",
        "",
    ]
    return lines


def hot_keys(sizes: dict[str, int], route_seconds: dict[str, float] | None = None) -> list[str]:
    """The hot-key section; ``route_seconds``: each route's modelled warm duration (cost table),
    for the items its containers keep a copy of."""
    route_seconds = route_seconds or {}

    def per_touch(hot: HotKey) -> int:
        seconds = route_seconds.get(hot.copied_for)
        return requests_per_copy(seconds) if hot.copied_for and seconds else hot.requests_per_touch

    lines = [
        "## Hot keys",
        "",
        f"Items that many requests share. One partition serves at most {PARTITION_READS:,} read units and "
        f"{PARTITION_WRITES:,} write units a second, and one item never spans partitions, so an item's ceiling is "
        "that limit ÷ the units each request spends on it (from the item's real size in this run, by the rules "
        "above). Past it DynamoDB throttles: botocore retries (standard mode, 3 attempts), then the request is "
        "answered **429 with `Retry-After`** (`StoreBusy(throttled=True)`); every write is a conditional write or "
        "a transaction, so a throttled write has written nothing and none is lost. Other data keeps its own "
        "partitions: only requests sharing the hot item slow down. The `COUNTER` items of a table share one "
        "partition key (`COUNTER`, one sort key per entity): DynamoDB can split a busy item collection by sort key "
        "(adaptive capacity's split for heat), so each counter can reach its own ceiling once split, never more "
        "than one item's.",
        "",
        "| item | shared by | bytes | units per request | ceiling (requests/s) | a large instance needs | verdict | "
        "why, and what then |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for hot in HOT_KEYS:
        size = sizes.get(hot.label)
        if size is None:
            lines.append(f"| {hot.label} | {hot.shared_by} | (none in this run) | | | | | {hot.reason} |")
            continue
        top = ceiling(hot, size, per_touch(hot))
        units = units_per_request(hot, size, per_touch(hot))
        kind = "RCU" if _reads(hot) else "WCU"
        if not hot.needed:
            verdict, needed = "no figure", "-"
        else:
            needed = f"{hot.needed:,}/s"
            verdict = (
                "**below**" if top < hot.needed else "at the figure, no headroom" if top == hot.needed else "above"
            )
        lines.append(
            f"| {hot.label} | {hot.shared_by} | {size:,} | {units:.3g} {kind} ({hot.touch}"
            + (f", one per {per_touch(hot)} requests" if per_touch(hot) > 1 else "")
            + f") | {_n(top)} | "
            f"{needed} | {verdict} | {hot.reason} |"
        )
    below = [
        hot.label
        for hot in HOT_KEYS
        if hot.needed and hot.label in sizes and ceiling(hot, sizes[hot.label], per_touch(hot)) < hot.needed
    ]
    lines += [
        "",
        "Below the figure a large instance needs: "
        + (", ".join(below) if below else "none")
        + ". Why each is acceptable, the design changed for it and the planned design should it not be, are in "
        "its row.",
        "",
    ]
    return lines


def memory_of(template: dict, logical_id: str) -> int:
    """A function's MemorySize (its own, else the template's Globals)."""
    props = template.get("Resources", {}).get(logical_id, {}).get("Properties", {})
    default = template.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    value = props.get("MemorySize", default)
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else int(default)


def route_costs(counts: list, template: dict, dynamodb_ms: float = 5.0) -> list[RouteCost]:
    rows = []
    for count in counts:
        if count.error or count.own_seconds is None:
            continue
        seconds = count.own_seconds + count.warm_max("dynamodb") * dynamodb_ms / 1000
        rows.append(
            RouteCost(
                count.scenario.name,
                seconds,
                memory_of(template, count.function),
                count.warm_read_units,
                count.warm_write_units,
            )
        )
    return rows


@dataclass
class RouteCost:
    route: str
    seconds: float  # modelled billed duration of one warm request
    memory_mb: int
    read_units: float
    write_units: float

    def per_million(self) -> dict[str, float]:
        gb_seconds = self.memory_mb / 1024 * self.seconds
        parts = {
            "Lambda": 1e6 * (gb_seconds * PRICES["lambda_gb_second_arm64"] + PRICES["lambda_request"]),
            "API Gateway": 1e6 * PRICES["api_gateway_rest_request"],
            "DynamoDB": 1e6
            * (self.read_units * PRICES["dynamodb_read_unit"] + self.write_units * PRICES["dynamodb_write_unit"]),
        }
        parts["total"] = sum(parts.values())
        return parts


def costs(rows: list[RouteCost]) -> list[str]:
    if not rows:
        return ["## Cost per million requests", "", "Not measured in this run.", ""]
    lines = [
        "## Cost per million requests",
        "",
        "Modelled, in US dollars per million warm requests of each route, from this run's measurements: the "
        "route's DynamoDB capacity units (round-trip table), its function's `MemorySize` from template.yaml, and "
        "a billed duration = the handler's own time in process (*own ms*) + its DynamoDB round trips x 5 ms "
        "(a typical in-region DynamoDB call; moto's latency says nothing about DynamoDB's). Prices (us-east-1, "
        "public list prices): Lambda arm64 "
        f"${PRICES['lambda_gb_second_arm64']:.10f} per GB-s and $0.20 per million requests; API Gateway REST $3.50 "
        "per million (first 333 million a month); DynamoDB on-demand $0.125 per million read units and $0.625 per "
        "million write units. Not included: KMS (no call when warm), CloudWatch logs and X-Ray, data transfer, "
        "storage, cold starts.",
        "",
        "| route | billed ms | memory MB | RCU | WCU | Lambda $ | API Gateway $ | DynamoDB $ | total $ |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        parts = row.per_million()
        lines.append(
            f"| `{row.route}` | {row.seconds * 1000:.1f} | {row.memory_mb} | {row.read_units:g} | "
            f"{row.write_units:g} | {parts['Lambda']:.2f} | {parts['API Gateway']:.2f} | "
            f"{parts['DynamoDB']:.2f} | {parts['total']:.2f} |"
        )
    return [*lines, ""]
