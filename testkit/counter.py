"""Counting AWS round trips with botocore's event system.

The functions reach AWS only through the clients ``cluster_agents.aws.client(service)`` builds
(one per service, cached for the life of the container). ``RoundTrips`` registers a
``before-parameter-build`` hook (it sees the call's parameters) and an ``after-call`` hook (it
sees the parsed answer) on each of those clients; every API call is then
recorded with its service, operation, table, the key prefix it touched, the number of
DynamoDB items it read (``ScannedCount`` for Query/Scan, the items returned by GetItem,
BatchGetItem and TransactGetItems) and the capacity units it consumed (``testkit/capacity.py``,
from the sizes of the items it touched: moto's own ``ConsumedCapacity`` is a placeholder). A
transaction is one round trip.

The sizes come from the items themselves, read with a separate client that has no hooks (a
"probe"): the items a write replaces (before it) and leaves (after it), and, for reads with a
projection or a filter, the whole items the read evaluated. Probes are timed apart
(``Calls.probe_seconds``) and never counted as round trips.

    counter = RoundTrips()
    with counter.measure() as calls:
        handler(event, context)
    calls.by_service()  # {"dynamodb": 3, "kms": 0}
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from testkit import consumed
from testkit.capacity import Capacity

SERVICES = ("dynamodb", "kms", "secretsmanager")
_KEY_PREFIX = re.compile(r"^[A-Z]+#?")  # "PAT#3f2a..." -> "PAT#", "COUNTER" -> "COUNTER"
_ids = itertools.count(1)


@dataclass(frozen=True)
class Call:
    service: str  # dynamodb | kms | secretsmanager
    operation: str  # GetItem, Query, TransactWriteItems, GenerateMac, ...
    table: str = ""  # DynamoDB table(s) touched
    keys: str = ""  # the kinds of keys touched, e.g. "PAT#", "MEMBERS#x2"
    items_read: int = 0
    seconds: float = 0.0  # from parameter building to the parsed answer (botocore's whole call)
    capacity: Capacity = field(default_factory=Capacity)  # DynamoDB read and write units this call consumed

    def describe(self) -> str:
        if self.service != "dynamodb":
            return f"{self.service}:{self.operation}"
        where = " ".join(part for part in (self.table, self.keys) if part)
        return f"{self.operation}({where})" if where else self.operation


@dataclass
class Calls:
    """The AWS calls made while a ``measure()`` block ran."""

    calls: list[Call] = field(default_factory=list)
    probe_seconds: float = 0.0  # spent reading item sizes for the capacity figures (not the handler's)

    def count(self, service: str) -> int:
        return sum(1 for call in self.calls if call.service == service)

    def by_service(self) -> dict[str, int]:
        return {service: self.count(service) for service in SERVICES}

    @property
    def dynamodb(self) -> int:
        return self.count("dynamodb")

    @property
    def kms(self) -> int:
        return self.count("kms")

    @property
    def items_read(self) -> int:
        return sum(call.items_read for call in self.calls)

    @property
    def capacity(self) -> Capacity:
        return sum((call.capacity for call in self.calls), Capacity())

    @property
    def read_units(self) -> float:
        return self.capacity.read

    @property
    def write_units(self) -> float:
        return self.capacity.write

    @property
    def aws_seconds(self) -> float:
        return sum(call.seconds for call in self.calls)

    def sequence(self) -> str:
        return " → ".join(call.describe() for call in self.calls) or "(none)"

    def operations(self) -> Counter:
        return Counter(f"{call.service}:{call.operation}" for call in self.calls)


def _short_table(name: str) -> str:
    return name.removesuffix("Table").split("-")[-1] if name else ""


def _key_kind(key: dict | None) -> str:
    if not key:
        return ""
    pk = key.get("pk", {})
    value = pk.get("S", "") if isinstance(pk, dict) else str(pk)
    match = _KEY_PREFIX.match(value)
    return match.group(0) if match else value[:12]


def _kinds(kinds: list[str]) -> str:
    counted = Counter(kind for kind in kinds if kind)
    return ",".join(kind if n == 1 else f"{kind}x{n}" for kind, n in counted.items())


def _where(operation: str, params: dict[str, Any]) -> tuple[str, str]:
    """(table, key kinds) of a DynamoDB call, read from its parameters."""
    if operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        key = params.get("Key") or params.get("Item")
        return _short_table(params.get("TableName", "")), _key_kind(key)
    if operation in ("Query", "Scan"):
        values = params.get("ExpressionAttributeValues") or {}
        pk = values.get(":pk")
        kind = _key_kind({"pk": pk}) if pk else ""
        if operation == "Query" and not kind:
            kind = next((_key_kind({"pk": v}) for v in values.values() if isinstance(v, dict) and "S" in v), "")
        return _short_table(params.get("TableName", "")), kind
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables, kinds = [], []
        for table, request in (params.get("RequestItems") or {}).items():
            tables.append(_short_table(table))
            if isinstance(request, dict):
                kinds += [_key_kind(k) for k in request.get("Keys", [])]
            else:
                kinds += [
                    _key_kind(
                        (w.get("PutRequest", {}) or {}).get("Item") or (w.get("DeleteRequest", {}) or {}).get("Key")
                    )
                    for w in request
                ]
        return "+".join(dict.fromkeys(tables)), _kinds(kinds)
    if operation in ("TransactWriteItems", "TransactGetItems"):
        tables, kinds = [], []
        for action in params.get("TransactItems", []):
            for body in action.values():
                tables.append(_short_table(body.get("TableName", "")))
                kinds.append(_key_kind(body.get("Key") or body.get("Item")))
        plural = "s" if len(kinds) != 1 else ""
        return "+".join(dict.fromkeys(tables)), f"{len(kinds)} action{plural}: {_kinds(kinds)}"
    return _short_table(params.get("TableName", "")), ""


def _items_read(operation: str, parsed: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "GetItem":
        return 1 if parsed.get("Item") else 0
    if operation == "BatchGetItem":
        return sum(len(items) for items in (parsed.get("Responses") or {}).values())
    if operation == "TransactGetItems":
        return sum(1 for response in parsed.get("Responses", []) if response.get("Item"))
    return 0


class RoundTrips:
    """Hooks on the functions' AWS clients; ``measure()`` collects the calls of one block.
    ``capacity=False`` skips the probes (round trips and items only)."""

    def __init__(self, capacity: bool = True) -> None:
        self._uid = f"testkit-roundtrips-{next(_ids)}"
        self._current: Calls | None = None
        self._capacity = capacity
        self._probe: consumed.Probe | None = None

    def attach(self) -> None:
        """Register on the clients the functions use (again after a container reset: new clients)."""
        from cluster_agents.aws import client

        for service in SERVICES:
            events = client(service).meta.events
            events.register("before-parameter-build", self._before, unique_id=f"{self._uid}-before")
            events.register("after-call", self._after, unique_id=f"{self._uid}-after")
            events.register("after-call-error", self._after_error, unique_id=f"{self._uid}-error")
        if self._capacity:
            self._probe = consumed.Probe(client("dynamodb"))

    @contextlib.contextmanager
    def measure(self) -> Iterator[Calls]:
        self.attach()
        calls = Calls()
        self._current = calls
        try:
            yield calls
        finally:
            self._current = None

    # -------------------------------------------------------------- botocore hooks
    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self._current is None:
            return
        service = model.service_model.service_name
        operation = model.name
        table, keys = _where(operation, params or {}) if service == "dynamodb" else ("", "")
        images = {}
        if service == "dynamodb" and self._probe is not None:
            probing = time.perf_counter()
            images = consumed.before(self._probe, operation, params or {})
            self._current.probe_seconds += time.perf_counter() - probing
        context["counted_call"] = (service, operation, table, keys, dict(params or {}), images, time.perf_counter())

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._current is None or "counted_call" not in context:
            return
        service, operation, table, keys, params, images, started = context.pop("counted_call")
        seconds = time.perf_counter() - started
        items = _items_read(operation, parsed or {}) if service == "dynamodb" else 0
        units = Capacity()
        if service == "dynamodb" and self._probe is not None:
            probing = time.perf_counter()
            units = consumed.units(self._probe, operation, params, parsed or {}, images)
            self._current.probe_seconds += time.perf_counter() - probing
        self._current.calls.append(Call(service, operation, table, keys, items, seconds, units))

    def _after_error(self, context: dict[str, Any], **_: Any) -> None:
        """A call that never got an answer (connection error): still a round trip attempted."""
        if self._current is None or "counted_call" not in context:
            return
        service, operation, table, keys, _params, _images, started = context.pop("counted_call")
        self._current.calls.append(Call(service, operation, table, keys, 0, time.perf_counter() - started))
