"""Does any request's cost grow with the data? Measured in DynamoDB items read (``ScannedCount``
of queries, items returned by reads) and round trips, never in moto's latency (moto scans its
whole table on every query).

Small cases are built through the API. Large ones are grown from them in bulk: the items the
API wrote for one agent / one revoked token / one personal access token are read back raw and
cloned with BatchWriteItem under fresh ids (reserved by bumping the atomic counters, so later
API writes cannot collide), keeping the key layouts of store/keys.py."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.scenarios import KAS_CONFIGURATION, World
from testkit.client import InProcess, Request, Response, check
from testkit.container import expire_recent_copies
from testkit.counter import Calls, RoundTrips

RATIO_LIMIT = 1.3
BATCH = 25
DEEP_PAGE, DEEP_PER_PAGE = 100, 20  # page 1 vs page 100 of the agents list
RECEPTIVE_AGENTS = "/internal/kubernetes/receptive_agents"


@dataclass
class Sizes:
    agents: int = 10_000
    revoked: int = 1_000
    pats: int = 100_000
    small_agents: int = 10
    small_pats: int = 10
    non_receptive: int = 500  # agents without a URL configuration, beside one receptive agent
    authorising: int = 1_000  # agents authorising one group (allowed_agents)
    receptive: int = 500


@dataclass
class Scale:
    name: str
    small_label: str
    large_label: str
    small: Calls | None = None
    large: Calls | None = None
    target: bool = True  # counts against the 1.3x target (else: shown for information)
    check: str = ""  # a correctness check made on the large response (X-Total)
    error: str | None = None
    note: str = ""

    @staticmethod
    def _ratio(small: int, large: int) -> float:
        return large / small if small else (1.0 if large == 0 else float("inf"))

    @property
    def items_ratio(self) -> float:
        return self._ratio(self.small.items_read, self.large.items_read)

    @property
    def trips_ratio(self) -> float:
        return self._ratio(self.small.dynamodb, self.large.dynamodb)

    @property
    def capacity_ratio(self) -> float:
        """Capacity units (read + write) of the large case ÷ the small one."""
        small, large = self.small.capacity.total, self.large.capacity.total
        return large / small if small else (1.0 if large == 0 else float("inf"))

    @property
    def met(self) -> bool:
        return (
            self.error is None
            and self.items_ratio <= RATIO_LIMIT
            and self.trips_ratio <= RATIO_LIMIT
            and self.capacity_ratio <= RATIO_LIMIT
        )


# ---------------------------------------------------------------- bulk writes of raw items
def bulk_put(ddb: Any, table: str, items: Iterator[dict]) -> int:
    written = 0
    batch: list[dict] = []

    def flush() -> None:
        pending = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}

    for item in items:
        batch.append(item)
        if len(batch) == BATCH:
            flush()
            written += len(batch)
            batch = []
    if batch:
        flush()
        written += len(batch)
    return written


def reserve_ids(ddb: Any, table: str, entity: str, count: int) -> range:
    """``count`` ids of ``entity`` that the atomic counter will never hand out."""
    value = int(
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "COUNTER"}, "sk": {"S": entity}},
            UpdateExpression="ADD #v :n",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )["Attributes"]["value"]["N"]
    )
    return range(value - count + 1, value + 1)


def replaced(item: dict, strings: dict[str, str], numbers: dict[str, dict[str, str]]) -> dict:
    """A raw DynamoDB item with string values swapped anywhere and numeric top-level attributes
    (``{"id": {"old": "5", "new": "17"}}``) swapped where they hold the old value."""
    out = {}
    for name, value in item.items():
        if name in numbers and value == {"N": numbers[name]["old"]}:
            out[name] = {"N": numbers[name]["new"]}
        else:
            out[name] = _swap_strings(value, strings)
    return out


def _swap_strings(value: Any, strings: dict[str, str]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"S"}:
            return {"S": strings.get(value["S"], value["S"])}
        return {key: _swap_strings(inner, strings) for key, inner in value.items()}
    if isinstance(value, list):
        return [_swap_strings(inner, strings) for inner in value]
    return copy.deepcopy(value)


def raw_get(ddb: Any, table: str, pk: str, sk: str) -> dict:
    item = ddb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get("Item")
    if item is None:
        raise LookupError(f"{pk} / {sk} is not in {table}")
    return item


def raw_partition(ddb: Any, table: str, pk: str) -> list[dict]:
    items, start = [], None
    while True:
        more = {"ExclusiveStartKey": start} if start else {}
        page = ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ConsistentRead=True,
            ExpressionAttributeValues={":pk": {"S": pk}},
            **more,
        )
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


# ---------------------------------------------------------------- measuring
class Probe:
    """Sends a request twice in this process (the second one warm) and counts the second."""

    def __init__(self, client: InProcess) -> None:
        self.client = client
        self.counter = RoundTrips()

    def warm(self, request: Request, past_copies: bool = False) -> tuple[Calls, Response]:
        """``past_copies``: the container's copies of hot items have aged past their second (the
        most a warm request reads)."""
        check(request, self.client.send(request))
        if past_copies:
            expire_recent_copies()
        return self.once(request)

    def once(self, request: Request) -> tuple[Calls, Response]:
        with self.counter.measure() as calls:
            response = self.client.send(request)
        return calls, check(request, response)


def _guarded(result: Scale, body: Callable[[], None]) -> Scale:
    try:
        body()
    except Exception as error:
        result.error = f"{type(error).__name__}: {error}"[:400]
    return result


# ---------------------------------------------------------------- agents: first page, X-Total, single, last page
def agents_at_scale(world: World, probe: Probe, ddb: Any, sizes: Sizes, progress=None) -> list[Scale]:
    per_page = 10
    first = Scale(
        f"first page of a project's agents (`per_page={per_page}`)",
        f"{sizes.small_agents} agents",
        f"{sizes.agents:,} agents",
    )
    single = Scale(
        "one agent (`GET .../cluster_agents/:agent_id`)", f"{sizes.small_agents} agents", f"{sizes.agents:,} agents"
    )
    total = Scale(
        "`X-Total` of the agents list (items read for the count)",
        f"{sizes.small_agents} agents",
        f"{sizes.agents:,} agents",
    )
    deep_page = min(DEEP_PAGE, max(1, sizes.agents // DEEP_PER_PAGE))
    deep = Scale(
        f"a deep page of the agents (`per_page={DEEP_PER_PAGE}`)",
        f"page 1 of {sizes.agents:,} agents",
        f"page {deep_page} of {sizes.agents:,} agents",
        target=False,
        note="offset pagination: page N first reads the (N-1)xper_page name-index keys before it; see *Deep pages*",
    )
    results = [first, single, total, deep]
    table = world.container.agents_table
    try:
        project = world.project("crowded", namespace_id=world.bench_group["id"])["id"]
        auth = world.maintainer.auth
        ids = []
        for index in range(sizes.small_agents):
            ids.append(
                world.send(
                    "POST", f"/projects/{project}/cluster_agents", json_body={"name": f"a{index:06d}"}, expect=201
                ).json()["id"]
            )
        listing = f"/projects/{project}/cluster_agents"

        def page(number: int) -> Request:
            return Request("GET", listing, auth, query={"per_page": per_page, "page": number})

        small_page, small_response = probe.warm(page(1))
        first.small = total.small = small_page
        single.small, _ = probe.warm(Request("GET", f"{listing}/{ids[0]}", auth))

        # grow to sizes.agents by cloning the first agent's two items under reserved ids
        template_id, template_name = ids[0], "a000000"
        agent_item = raw_get(ddb, table, f"AGENT#{template_id}", "A")
        index_item = raw_get(ddb, table, f"PROJECT#{project}", f"AGENT#{template_name}")
        extra = sizes.agents - sizes.small_agents
        reserved = reserve_ids(ddb, table, "agent", extra)

        def clones() -> Iterator[dict]:
            for offset, agent_id in enumerate(reserved):
                name = f"a{sizes.small_agents + offset:06d}"
                strings = {
                    f"AGENT#{template_id}": f"AGENT#{agent_id}",
                    template_name: name,
                    f"AGENT#{template_name}": f"AGENT#{name}",
                }
                numbers = {"id": {"old": str(template_id), "new": str(agent_id)}}
                yield replaced(agent_item, strings, numbers)
                yield replaced(index_item, strings, numbers)

        if progress:
            progress(f"  seeding {extra:,} agents ({2 * extra:,} items) with BatchWriteItem")
        bulk_put(ddb, table, clones())
        stats = raw_get(ddb, table, f"PROJECT#{project}", "#STATS")
        counts = [name for name, value in stats.items() if "count" in name and "N" in value]
        for name in counts:
            ddb.update_item(
                TableName=table,
                Key={"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": "#STATS"}},
                UpdateExpression="ADD #c :n",
                ExpressionAttributeNames={"#c": name},
                ExpressionAttributeValues={":n": {"N": str(extra)}},
            )
        big_page, big_response = probe.warm(page(1))
        first.large = total.large = big_page
        single.large, _ = probe.warm(Request("GET", f"{listing}/{ids[0]}", auth))
        deep.small, _ = probe.warm(Request("GET", listing, auth, query={"per_page": DEEP_PER_PAGE, "page": 1}))
        deep.large, _ = probe.warm(Request("GET", listing, auth, query={"per_page": DEEP_PER_PAGE, "page": deep_page}))
        shown = big_response.header("X-Total")
        verdict = "correct" if shown == str(sizes.agents) else "WRONG"
        total.check = (
            f"`X-Total: {shown}` at {sizes.agents:,} agents ({verdict}; at {sizes.small_agents}: "
            f"`{small_response.header('X-Total')}`)"
        )
        if shown != str(sizes.agents):
            total.error = f"X-Total is {shown}, expected {sizes.agents}"
    except Exception as error:
        for result in results:
            if result.large is None:
                result.error = f"{type(error).__name__}: {error}"[:400]
    return results


# ---------------------------------------------------------------- tokens: active ones among many revoked
def tokens_at_scale(world: World, probe: Probe, ddb: Any, sizes: Sizes, progress=None) -> list[Scale]:
    listing = Scale("active tokens of an agent (2 active)", "0 revoked", f"{sizes.revoked:,} revoked")
    single = Scale("one active token (`GET .../tokens/:token_id`)", "0 revoked", f"{sizes.revoked:,} revoked")
    results = [listing, single]
    table = world.container.agents_table
    try:
        project = world.fleet["id"]
        agent_id = world.agent(project, "keyring")
        base = f"/projects/{project}/cluster_agents/{agent_id}/tokens"
        first, _ = world.token(project, agent_id)
        second, _ = world.token(project, agent_id)
        auth = world.maintainer.auth
        listing.small, _ = probe.warm(Request("GET", base, auth))
        single.small, _ = probe.warm(Request("GET", f"{base}/{second}", auth))
        world.token(project, agent_id)  # revokes the oldest (first): one revoked, two active
        revoked = [
            item
            for item in raw_partition(ddb, table, f"AGENT#{agent_id}")
            if item["sk"]["S"].startswith("RT#")
            or (item.get("id") == {"N": str(first)} and not item["sk"]["S"].startswith("AT#"))
        ]
        if not revoked:
            raise LookupError("no revoked-token item found in the agent's partition")
        template = revoked[0]
        extra = sizes.revoked - 1
        reserved = reserve_ids(ddb, table, "agent_token", extra)

        def clones() -> Iterator[dict]:
            old_sk = template["sk"]["S"]
            for token_id in reserved:
                new_sk = old_sk.replace(f"{first:012d}", f"{token_id:012d}")
                yield replaced(template, {old_sk: new_sk}, {"id": {"old": str(first), "new": str(token_id)}})

        if progress:
            progress(f"  seeding {extra:,} revoked tokens with BatchWriteItem")
        bulk_put(ddb, table, clones())
        listing.large, _ = probe.warm(Request("GET", base, auth))
        single.large, _ = probe.warm(Request("GET", f"{base}/{second}", auth))
    except Exception as error:
        for result in results:
            if result.large is None:
                result.error = f"{type(error).__name__}: {error}"[:400]
    return results


# ---------------------------------------------------------------- receptive agents among many that are not


def receptive_at_scale(world: World, probe: Probe, ddb: Any, sizes: Sizes, progress=None) -> list[Scale]:
    """The agent server's receptive list reads the receptive-agents index only: one receptive
    agent listed, with 1 and then ``sizes.non_receptive`` agents stored that are not receptive."""
    result = Scale(
        f"receptive agents for the agent server (`GET {RECEPTIVE_AGENTS}`, 1 listed)",
        "1 non-receptive agent",
        f"{sizes.non_receptive:,} non-receptive agents",
    )
    table = world.container.agents_table

    def run() -> None:
        project = world.project("receptive", namespace_id=world.bench_group["id"])["id"]
        receptive = world.agent(project, "receptive")
        world.url_configuration(project, receptive)
        plain = world.agent(project, "plain")
        result.small, small_response = probe.warm(Request("GET", RECEPTIVE_AGENTS, world.kas_headers()))
        listed_before = len(small_response.json()["agents"])
        extra = sizes.non_receptive - 1
        if progress:
            progress(f"  seeding {extra:,} agents that are not receptive ({2 * extra:,} items) with BatchWriteItem")
        bulk_put(ddb, table, clone_agent(ddb, table, project, plain, extra))
        result.large, response = probe.warm(Request("GET", RECEPTIVE_AGENTS, world.kas_headers()))
        listed = len(response.json()["agents"])
        result.check = (
            f"{listed} receptive agent(s) listed with {sizes.non_receptive:,} others stored (with 1: {listed_before})"
        )
        if listed != listed_before:
            result.error = f"{listed} agents listed, expected {listed_before}"

    return [_guarded(result, run)]


def clone_agent(ddb: Any, table: str, project: int, template_id: int, count: int) -> Iterator[dict]:
    """``count`` copies of an agent (its item and its name-index copy) under reserved ids, and the
    project's ``#STATS`` raised to match."""
    agent_item = raw_get(ddb, table, f"AGENT#{template_id}", "A")
    template_name = agent_item["name"]["S"]
    index_item = raw_get(ddb, table, f"PROJECT#{project}", f"AGENT#{template_name}")
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": "#STATS"}},
        UpdateExpression="ADD #c :n",
        ExpressionAttributeNames={"#c": "agent_count"},
        ExpressionAttributeValues={":n": {"N": str(count)}},
    )
    for agent_id in reserve_ids(ddb, table, "agent", count):
        name = f"{template_name}-c{agent_id}"
        strings = {
            f"AGENT#{template_id}": f"AGENT#{agent_id}",
            template_name: name,
            f"AGENT#{template_name}": f"AGENT#{name}",
        }
        numbers = {"id": {"old": str(template_id), "new": str(agent_id)}}
        yield replaced(agent_item, strings, numbers)
        yield replaced(index_item, strings, numbers)


# ---------------------------------------------------------------- personal access tokens
def pats_at_scale(world: World, probe: Probe, ddb: Any, sizes: Sizes, progress=None) -> list[Scale]:
    auth = Scale("PAT authentication (`GET /user`)", f"{sizes.small_pats} PATs", f"{sizes.pats:,} PATs")
    table = world.container.directory_table

    def run() -> None:
        from cluster_agents.crypto import digest

        user = world.user("crowd")
        stored = _count_pats(ddb, table)
        while stored < sizes.small_pats:
            world.personal_access_token(user.id)
            stored += 1
        request = Request("GET", "/user", user.auth)
        auth.small, _ = probe.warm(request)
        template_digest = digest(user.token)
        pat_item = raw_get(ddb, table, f"PAT#{template_digest}", "PAT")
        template_id = int(pat_item["id"]["N"])
        pointer_item = raw_get(ddb, table, f"PATID#{template_id}", "PATID")
        extra = sizes.pats - stored
        reserved = reserve_ids(ddb, table, "personal_access_token", extra)

        def clones() -> Iterator[dict]:
            for token_id in reserved:
                fresh = secrets.token_hex(32)
                strings = {
                    f"PAT#{template_digest}": f"PAT#{fresh}",
                    template_digest: fresh,
                    f"PATID#{template_id}": f"PATID#{token_id}",
                }
                numbers = {"id": {"old": str(template_id), "new": str(token_id)}}
                yield replaced(pat_item, strings, numbers)
                yield replaced(pointer_item, strings, numbers)

        if progress:
            progress(f"  seeding {extra:,} personal access tokens ({2 * extra:,} items) with BatchWriteItem")
        bulk_put(ddb, table, clones())
        auth.large, _ = probe.warm(request)

    return [_guarded(auth, run)]


def _count_pats(ddb: Any, table: str) -> int:
    count, start = 0, None
    while True:
        more = {"ExclusiveStartKey": start} if start else {}
        page = ddb.scan(
            TableName=table,
            Select="COUNT",
            FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "PAT#"}},
            **more,
        )
        count += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return count


# ---------------------------------------------------------------- allowed_agents: many agents authorising one group
def authorising_at_scale(world: World, probe: Probe, ddb: Any, sizes: Sizes, progress=None) -> list[Scale]:
    """A job in a group that 1 vs ``sizes.authorising`` agents authorise through ci_access. The
    large case clones the first agent's entry of the group's ``CIACCESS#`` item (the job side
    reads only that item and the agents' configuration project)."""
    result = Scale(
        "`GET /job/allowed_agents`, agents authorising the job's group",
        "1 agent",
        f"{sizes.authorising:,} agents",
        note="the answer lists every authorised agent: it grows with them whatever the storage",
    )
    table = world.container.agents_table

    def run() -> None:
        group = world.group()
        agents_home = world.project("authorisers", namespace_id=group["id"])
        jobs_home = world.project("jobs", namespace_id=group["id"])
        agent_id = world.agent(agents_home["id"], "authoriser")
        config = {"ci_access": {"groups": [{"id": group["full_path"]}]}}
        world.send(
            "POST",
            KAS_CONFIGURATION,
            auth={},
            headers=world.kas_headers(),
            expect=204,
            json_body={"agent_id": agent_id, "agent_config": config},
        )
        _, token = world.job(jobs_home["id"], world.maintainer.id)
        request = Request("GET", "/job/allowed_agents", {"JOB-TOKEN": token})
        result.small, small_answer = probe.warm(request, past_copies=True)
        item = next(i for i in raw_partition(ddb, table, f"CIACCESS#group#{group['id']}"))
        entry = item[f"a{agent_id}"]
        reserved = list(reserve_ids(ddb, table, "agent", sizes.authorising - 1))
        if progress:
            progress(f"  seeding {len(reserved):,} ci_access entries of one group")
        for start in range(0, len(reserved), 100):
            chunk = reserved[start : start + 100]
            ddb.update_item(
                TableName=table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET " + ", ".join(f"#a{n} = :e" for n in range(len(chunk))),
                ExpressionAttributeNames={f"#a{n}": f"a{new}" for n, new in enumerate(chunk)},
                ExpressionAttributeValues={":e": entry},
            )
        expire_recent_copies()  # the entries were written by another container
        result.large, large_answer = probe.warm(request, past_copies=True)
        with probe.counter.measure() as within_the_second:
            check(request, probe.client.send(request))
        listed = len(large_answer.json()["allowed_agents"])
        result.check = (
            f"answer {len(small_answer.body):,} → {len(large_answer.body):,} bytes, {listed:,} agents "
            f"listed; {result.large.capacity.total / max(1, listed):.3f} capacity units per agent listed; "
            f"measured with the container's copy of the item aged past its second (within the second: "
            f"{within_the_second.capacity.total:g} capacity units)"
        )
        if listed != sizes.authorising:
            result.error = f"{listed} agents listed, expected {sizes.authorising}"

    world.notes.seeded.add(
        f"{sizes.authorising - 1:,} ci_access entries (the first agent's entry of the group's "
        "`CIACCESS#` item copied under ids reserved from the agent counter)"
    )
    return [_guarded(result, run)]


# ---------------------------------------------------------------- receptive agents (when the route exists)
def many_receptive_at_scale(world: World, probe: Probe, ddb: Any, sizes: Sizes, progress=None) -> list[Scale]:
    """``GET /internal/kubernetes/receptive_agents`` with 1 vs ``sizes.receptive`` receptive agents.
    One receptive agent is made through the API; the others are its raw items cloned under ids
    reserved from the counters (through the API, each URL configuration is a transaction that moto
    runs by copying the whole table: on a loaded machine one outlasts the functions' read timeout)."""
    result = Scale(
        "`GET /internal/kubernetes/receptive_agents`, receptive agents",
        "1 receptive agent",
        f"{sizes.receptive:,} receptive agents",
        note=(
            "**design changed** (`store/receptive_index.py`): a warm container keeps the index as it last read "
            "it, with the index's generation, which every write of an entry raises in its transaction; while the "
            "generation stands a list reads that one item alone. The first list after a change, once per "
            "container, reads the index again (strongly consistent), and that read grows with the agents listed, "
            "each with its own private key: see the check column"
        ),
    )
    table = world.container.agents_table

    def run() -> None:
        request = Request("GET", RECEPTIVE_AGENTS, world.kas_headers())
        existing = len(check(request, probe.client.send(request)).json().get("agents", []))
        if existing:  # an earlier case's receptive agent is listed too
            result.small_label = f"{existing + 1} receptive agents"
        project = world.project("receptive", namespace_id=world.bench_group["id"])["id"]
        template_id = world.agent(project, "listener")
        world.url_configuration(project, template_id)
        request = Request("GET", RECEPTIVE_AGENTS, world.kas_headers())
        small_change, _ = probe.once(request)
        result.small, _ = probe.warm(request)
        extra = sizes.receptive - 1 - existing
        if progress:
            progress(f"  seeding {extra:,} receptive agents ({4 * extra:,} items) with BatchWriteItem")
        bulk_put(ddb, table, clone_receptive_agent(ddb, table, project, template_id, extra))
        raise_receptive_generation(ddb, table, extra)
        request = Request("GET", RECEPTIVE_AGENTS, world.kas_headers())
        large_change, answer = probe.once(request)
        result.large, _ = probe.warm(request)
        listed = len(answer.json().get("agents", []))
        result.check = (
            f"{listed:,} agents listed; the first list after a change reads the index again: "
            f"{small_change.capacity.total:g} → {large_change.capacity.total:g} capacity units "
            f"({large_change.capacity.total / max(1, listed):.4f} per agent listed), "
            f"{small_change.items_read} → {large_change.items_read} items"
        )
        if listed != sizes.receptive:
            result.error = f"{listed} agents listed, expected {sizes.receptive}"

    world.notes.seeded.add(
        f"{sizes.receptive - 1:,} receptive agents (agent, name-index copy, URL configuration and receptive-index "
        "entry each, the private key sealed again under each copy's own configuration id) cloned from one made "
        "through the API, under ids reserved from the `agent` and `url_configuration` counters, the index's "
        "generation raised by their number"
    )
    return [_guarded(result, run)]


def raise_receptive_generation(ddb: Any, table: str, count: int) -> None:
    """What each of ``count`` entries' transactions would have done to the index's generation."""
    from cluster_agents.store.keys import RECEPTIVE_GENERATION_KEY

    pk, sk = RECEPTIVE_GENERATION_KEY
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        UpdateExpression="ADD #g :n",
        ExpressionAttributeNames={"#g": "generation"},
        ExpressionAttributeValues={":n": {"N": str(count)}},
    )


def clone_receptive_agent(ddb: Any, table: str, project: int, template_id: int, count: int) -> Iterator[dict]:
    """``count`` copies of a receptive agent: its agent item, name-index copy, URL configuration
    and receptive-index entry, under reserved agent and configuration ids, each private key sealed
    again for its own configuration (``encryption_context``), and ``#STATS`` raised to match."""
    from cluster_agents import crypto as sealing
    from cluster_agents.store.url_configurations import SEALED_ATTRIBUTE, encryption_context

    agent_item = raw_get(ddb, table, f"AGENT#{template_id}", "A")
    template_name = agent_item["name"]["S"]
    index_item = raw_get(ddb, table, f"PROJECT#{project}", f"AGENT#{template_name}")
    configuration = raw_get(ddb, table, f"AGENT#{template_id}", "U")
    receptive = raw_get(ddb, table, "RECEPTIVE", f"AGENT#{template_id:012d}")
    configuration_id = configuration["id"]["N"]
    sealed = {
        attribute: sealing.decrypt(_raw_bytes(configuration[attribute]), encryption_context(int(configuration_id)))
        for attribute in SEALED_ATTRIBUTE.values()
        if attribute in configuration
    }
    ddb.update_item(
        TableName=table,
        Key={"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": "#STATS"}},
        UpdateExpression="ADD #c :n",
        ExpressionAttributeNames={"#c": "agent_count"},
        ExpressionAttributeValues={":n": {"N": str(count)}},
    )
    agent_ids = reserve_ids(ddb, table, "agent", count)
    configuration_ids = reserve_ids(ddb, table, "url_configuration", count)
    for agent_id, new_configuration_id in zip(agent_ids, configuration_ids, strict=True):
        name = f"{template_name}-c{agent_id}"
        strings = {
            f"AGENT#{template_id}": f"AGENT#{agent_id}",
            f"AGENT#{template_id:012d}": f"AGENT#{agent_id:012d}",
            template_name: name,
            f"AGENT#{template_name}": f"AGENT#{name}",
        }
        agent_number = {"old": str(template_id), "new": str(agent_id)}
        yield replaced(agent_item, strings, {"id": agent_number})
        yield replaced(index_item, strings, {"id": agent_number})
        numbers = {"id": {"old": configuration_id, "new": str(new_configuration_id)}, "agent_id": agent_number}
        resealed = {
            attribute: {"S": sealing.encrypt(plain, encryption_context(new_configuration_id))}
            for attribute, plain in sealed.items()
        }
        yield {**replaced(configuration, strings, numbers), **resealed}
        yield {**replaced(receptive, strings, numbers), **resealed}


def _raw_bytes(value: dict) -> Any:
    """A sealed value as ``secrets.decrypt`` takes it (stored as a string)."""
    return value.get("S", value.get("B"))


def measure(world: World, client: InProcess, sizes: Sizes, progress=None) -> list[Scale]:
    probe = Probe(client)
    ddb = world.container.ddb()
    # Cases that write through the API go before the bulk seeding: moto's transactions copy the
    # whole table, and with 10,000 agents in it one can outlast the functions' 5 s read timeout.
    results = receptive_at_scale(world, probe, ddb, sizes, progress)
    results += many_receptive_at_scale(world, probe, ddb, sizes, progress)
    results += authorising_at_scale(world, probe, ddb, sizes, progress)
    results += tokens_at_scale(world, probe, ddb, sizes, progress)
    results += agents_at_scale(world, probe, ddb, sizes, progress)
    results += pats_at_scale(world, probe, ddb, sizes, progress)  # last: the biggest table
    return results
