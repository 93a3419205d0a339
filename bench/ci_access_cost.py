"""What ``GET /job/allowed_agents`` reads when 1, 100 and 1,000 agents authorise the job's group,
and how many agents one project or group can hold (store/ci_access.py's layout)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.scenarios import KAS_CONFIGURATION, World
from testkit.client import InProcess, Request, check
from testkit.container import expire_recent_copies
from testkit.counter import RoundTrips

ITEM_LIMIT = 400 * 1024  # DynamoDB's item size limit


def attribute_bytes(value: dict[str, Any]) -> int:
    """DynamoDB's size of one attribute value (wire format), as its documentation counts it."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + attribute_bytes(item) + 1 for name, item in inner.items())
    if kind == "L":
        return 3 + sum(attribute_bytes(item) + 1 for item in inner)
    return sum(len(str(item)) for item in inner)  # SS, NS, BS: not used here


def item_bytes(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + attribute_bytes(value) for name, value in item.items())


def agents_one_item_holds() -> tuple[int, int]:
    """(agents a CIACCESS# item holds at the least, whatever they configure; with ``{}`` entries),
    for 7-digit agent and project ids."""
    from cluster_agents.store.ci_access import INLINE_LIMIT

    key = item_bytes({"pk": {"S": "CIACCESS#group#1000000"}, "sk": {"S": "ALL"}})

    def entry(configuration: str) -> int:
        return item_bytes({"a1000000": {"M": {"p": {"N": "1000000"}, "c": {"S": configuration}}}})

    return (ITEM_LIMIT - key) // entry("x" * INLINE_LIMIT), (ITEM_LIMIT - key) // entry("{}")


@dataclass
class AllowedAgentsCost:
    agents: int  # agents authorising the job's group
    allowed: int  # agents in the answer
    round_trips: int
    sequence: str
    items_read: int
    bytes_read: int
    response_bytes: int
    cpu: float  # seconds, in process


class _BytesRead:
    """Sums the DynamoDB size of every item the functions' client reads while ``measure()`` runs."""

    def __init__(self) -> None:
        self.total = 0
        self._on = False

    def _after(self, http_response: Any = None, parsed: dict[str, Any] | None = None, **_: Any) -> None:
        if not self._on or not parsed:
            return
        items = list(parsed.get("Items", []))
        if "Item" in parsed:
            items.append(parsed["Item"])
        for found in (parsed.get("Responses") or {}).values() if isinstance(parsed.get("Responses"), dict) else ():
            items.extend(found)
        self.total += sum(item_bytes(_wire(item)) for item in items)

    @contextlib.contextmanager
    def measure(self) -> Iterator[_BytesRead]:
        from cluster_agents.aws import client

        events = client("dynamodb").meta.events
        events.register("after-call.dynamodb", self._after, unique_id=f"bench-bytes-read-{id(self)}")
        self.total, self._on = 0, True
        try:
            yield self
        finally:
            self._on = False


def _wire(item: dict[str, Any]) -> dict[str, Any]:
    """botocore's parsed item back in wire form (binary values arrive as bytes)."""

    def value(v: dict[str, Any]) -> dict[str, Any]:
        ((kind, inner),) = v.items()
        if kind == "M":
            return {"M": {name: value(x) for name, x in inner.items()}}
        if kind == "L":
            return {"L": [value(x) for x in inner]}
        return {kind: inner}

    return {name: value(v) for name, v in item.items()}


def _seeded_agent(world: World, project_id: int) -> int:
    """An agent written straight to the table (``World.seed_agent``). Under load, botocore may send
    a transaction again after a lost answer, and the second copy fails on the first one's items:
    the agent is there then, under the id the counter gave it."""
    from cluster_agents.settings import get_settings
    from cluster_agents.store import dynamo

    name = world.unique("authorising")
    try:
        return world.seed_agent(project_id, name)
    except dynamo.TransactionCancelled:
        table = get_settings().agents_table
        found = (
            dynamo.ddb()
            .get_item(TableName=table, Key=dynamo.key(f"PROJECT#{project_id}", f"AGENT#{name}"), ConsistentRead=True)
            .get("Item")
        )
        if not found:
            raise
        return int(found["id"]["N"])


THROUGH_THE_API = 50  # agents configured through the agent server's route; the rest as copies


def _copy_entries(world: World, project_id: int, group_id: int, numbers: range) -> None:
    """More agents' entries in the group's CIACCESS# item and their mirrors, written as raw copies
    of what the agent server's route writes, 100 entries per UpdateItem (moto's time per write grows
    with the item, past its client's 5 s timeout on a loaded machine at about 500 entries)."""
    import json

    from cluster_agents.settings import get_settings
    from cluster_agents.store import dynamo, ids

    table = get_settings().agents_table
    pending: list[tuple[int, str]] = []
    for number in numbers:
        agent_id = ids.next_id(table, "agent")  # plain writes: moto copies every table per transaction
        fields = {
            "id": agent_id,
            "project_id": project_id,
            "name": world.unique("copied"),
            "created_at": "",
            "updated_at": "",
            "created_by_user_id": 1,
            "is_receptive": False,
            "active_tokens": 0,
            "version": 0,
        }
        dynamo.ddb().put_item(TableName=table, Item=dynamo.to_item({"pk": f"AGENT#{agent_id}", "sk": "A", **fields}))
        configuration = json.dumps({"default_namespace": f"ns-{number}"}, separators=(",", ":"))
        pending.append((agent_id, configuration))
        dynamo.ddb().put_item(
            TableName=table,
            Item=dynamo.to_item(
                {
                    "pk": f"AGENT#{agent_id}",
                    "sk": f"CI#group#{group_id}",
                    "agent_id": agent_id,
                    "agent_project_id": project_id,
                    "kind": "group",
                    "source_id": group_id,
                    "configuration": configuration,
                }
            ),
        )
        if len(pending) == 100 or number == numbers[-1]:
            names = {f"#a{n}": f"a{agent_id}" for n, (agent_id, _) in enumerate(pending)}
            values = {
                f":a{n}": {"M": {"p": {"N": str(project_id)}, "c": {"S": configuration}}}
                for n, (_, configuration) in enumerate(pending)
            }
            dynamo.ddb().update_item(
                TableName=table,
                Key=dynamo.key(f"CIACCESS#group#{group_id}", "ALL"),
                UpdateExpression="SET " + ", ".join(f"{name} = :{name[1:]}" for name in names),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            pending = []


def measure(
    world: World,
    client: InProcess,
    counts: tuple[int, ...] = (1, 100, 1000),
    progress: Callable[[str], None] | None = None,
) -> list[AllowedAgentsCost]:
    """For each count: a fresh top-level group with a configuration project and an app project in
    it, that many agents each authorising the group (``{"default_namespace": "ns-<n>"}``), and a
    job of the app project; the warm ``allowed_agents`` request's reads."""
    results = []
    for count in counts:
        if progress:
            progress(f"  allowed_agents with {count:,} agents authorising one group")
        group = world.group()
        config = world.project("kube", namespace_id=group["id"])
        app = world.project("app", namespace_id=group["id"])
        configured = min(count, THROUGH_THE_API)
        for number in range(configured):
            agent_id = _seeded_agent(world, config["id"])
            body = {
                "agent_id": agent_id,
                "agent_config": {
                    "ci_access": {"groups": [{"id": group["full_path"], "default_namespace": f"ns-{number}"}]}
                },
            }
            request = Request("POST", KAS_CONFIGURATION, world.kas_headers(), body, expect=204)
            check(request, client.send(request))
        _copy_entries(world, config["id"], group["id"], range(configured, count))
        _, token = world.job(app["id"], 1)
        request = Request("GET", "/job/allowed_agents", {"JOB-TOKEN": token})
        check(request, client.send(request))  # warm
        expire_recent_copies()  # the most a warm request reads: the group's item, not the container's copy
        bytes_read = _BytesRead()
        with RoundTrips().measure() as calls, bytes_read.measure():
            started = time.process_time()
            response = check(request, client.send(request))
            cpu = time.process_time() - started
        results.append(
            AllowedAgentsCost(
                count,
                len(response.json()["allowed_agents"]),
                calls.dynamodb,
                calls.sequence(),
                calls.items_read,
                bytes_read.total,
                len(response.body),
                cpu,
            )
        )
    world.notes.seeded.add(
        f"the agents authorising one group (allowed_agents cost) were written straight to "
        f"AgentsTable in store/agents.py's layout; the first {THROUGH_THE_API} were configured "
        "through the agent server's route, the others' entries and mirrors written as raw "
        "copies of what it writes, 100 entries per UpdateItem"
    )
    return results
