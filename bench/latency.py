"""Latency through the local API against the floor, and a worker's memory over many requests.

The floor of a route is its warm DynamoDB round trips times the median of one raw ``GetItem``
(boto3, strongly consistent, same moto server) measured in the same run, interleaved with the
route measurements so that both see the same machine."""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.clients import Http
from bench.scenarios import Driver, Scenario, World
from testkit.client import check


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


class Timings:
    """Median and p95 of ``samples`` (seconds)."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 0.95)


@dataclass
class RouteLatency(Timings):
    scenario: Scenario
    samples: list[float] = field(default_factory=list)  # seconds
    error: str | None = None


class Floor(Timings):
    """Raw GetItem timings against the same storage."""

    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb, self._table = ddb, table
        self.samples: list[float] = []
        self._key = {"pk": {"S": "USERNAME#root"}, "sk": {"S": "USERNAME"}}

    def sample(self, count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            self._ddb.get_item(TableName=self._table, Key=self._key, ConsistentRead=True)
            self.samples.append(time.perf_counter() - started)


def measure_latency(
    http: Http,
    world: World,
    scenarios: list[Scenario],
    floor: Floor,
    requests: int,
    warmup: int = 3,
    costs: OpCosts | None = None,
    progress=None,
) -> list[RouteLatency]:
    """Rounds over every route (one request each, in turn), so that the machine's ups and downs
    hit all routes alike; a raw GetItem is timed right after every request, and every kind of
    call (``costs``) once per round."""
    results = [RouteLatency(item) for item in scenarios]
    drivers = [Driver(item, world) for item in scenarios]
    floor.sample(10)  # connection set-up
    floor.samples.clear()
    for round_number in range(warmup + requests):
        for result, driver in zip(results, drivers, strict=True):
            if result.error:
                continue
            try:
                request = driver.next()  # preparation: not timed
                started = time.perf_counter()
                response = http.send(request)
                elapsed = time.perf_counter() - started
                driver.answered(check(request, response))
            except Exception as error:
                result.error = f"{type(error).__name__}: {error}"[:400]
                result.samples.clear()
                continue
            if round_number >= warmup:
                result.samples.append(elapsed)
                floor.sample(1)
        if costs and round_number >= warmup:
            costs.sample(1)
        if progress and (round_number + 1) % 5 == 0:
            progress(f"  latency round {round_number + 1}/{warmup + requests}")
    return results


class OpCosts:
    """What each kind of DynamoDB call costs on this moto server, in the same run: moto's costs
    differ by operation far more than DynamoDB's (its TransactWriteItems deep-copies the whole
    table once per action; its Query walks every item of the table). ``price(calls)`` sums the
    measured cost of a request's own calls: the floor with moto's operation costs in."""

    PROBE = {"pk": {"S": "BENCH#probe"}, "sk": {"S": "P"}}

    def __init__(self, ddb: Any, tables: list[str]) -> None:
        from testkit.counter import _short_table

        self._ddb = ddb
        self.tables = {_short_table(table): table for table in tables}
        self.samples: dict[tuple[str, str], list[float]] = defaultdict(list)
        for table in self.tables.values():
            ddb.put_item(TableName=table, Item={**self.PROBE, "n": {"N": "0"}})

    def _time(self, key: tuple[str, str], call: Any) -> None:
        started = time.perf_counter()
        call()
        self.samples[key].append(time.perf_counter() - started)

    def sample(self, rounds: int) -> None:
        ddb, probe = self._ddb, self.PROBE
        missing = {"pk": {"S": "BENCH#missing"}, "sk": {"S": "P"}}
        add = {"UpdateExpression": "ADD n :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}
        for _ in range(rounds):
            for short, table in self.tables.items():
                self._time(
                    ("GetItem", short), lambda t=table: ddb.get_item(TableName=t, Key=probe, ConsistentRead=True)
                )
                self._time(
                    ("BatchGetItem", short),
                    lambda t=table: ddb.batch_get_item(
                        RequestItems={t: {"Keys": [probe, missing], "ConsistentRead": True}}
                    ),
                )
                self._time(
                    ("Query", short),
                    lambda t=table: ddb.query(
                        TableName=t,
                        KeyConditionExpression="pk = :pk",
                        ConsistentRead=True,
                        ExpressionAttributeValues={":pk": probe["pk"]},
                    ),
                )
                self._time(("UpdateItem", short), lambda t=table: ddb.update_item(TableName=t, Key=probe, **add))
            for short, table in self.tables.items():  # last: moto's deep copies leave garbage behind
                for actions in (1, 3):
                    items = [
                        {"Update": {"TableName": table, "Key": {**probe, "sk": {"S": f"P{i}"}}, **add}}
                        for i in range(actions)
                    ]
                    self._time(
                        (f"TransactWriteItems{actions}", short),
                        lambda items=items: ddb.transact_write_items(TransactItems=items),
                    )

    def median(self, operation: str, table: str) -> float:
        samples = self.samples.get((operation, table)) or self.samples.get((operation, next(iter(self.tables))))
        return statistics.median(samples) if samples else 0.0

    def price_call(self, call: Any) -> float:
        if call.service != "dynamodb":
            return 0.0
        table = call.table.split("+")[0] or next(iter(self.tables))
        operation = call.operation
        if operation in ("TransactWriteItems", "TransactGetItems"):
            actions = int(call.keys.split(" ")[0]) if call.keys[:1].isdigit() else 1
            one, three = self.median("TransactWriteItems1", table), self.median("TransactWriteItems3", table)
            return one + (actions - 1) * max(0.0, three - one) / 2
        if operation in ("PutItem", "DeleteItem", "BatchWriteItem"):
            operation = "UpdateItem"
        if operation == "Scan":
            operation = "Query"
        return self.median(operation, table)

    def price(self, calls: Any) -> float:
        return sum(self.price_call(call) for call in calls.calls)

    def table_items(self) -> dict[str, int]:
        return {short: self._ddb.scan(TableName=table, Select="COUNT")["Count"] for short, table in self.tables.items()}


# ---------------------------------------------------------------- memory
def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class MemoryRun:
    checkpoints: dict[int, int] = field(default_factory=dict)  # requests served -> RSS KiB
    failures: list[str] = field(default_factory=list)
    routes: int = 0
    replaced: str = ""  # the worker was replaced (it died or ran over its timeout): RSS not comparable

    def growth(self, start: int, end: int) -> float:
        return self.checkpoints[end] / self.checkpoints[start] - 1


READ_WEIGHT = 3  # a read-mostly mix, as real traffic is: every GET route three times per cycle


def mixed_order(scenarios: list[Scenario], functions: dict) -> list[Scenario]:
    """Round-robin over functions (so the first few requests load every handler), then routes;
    then ``READ_WEIGHT - 1`` more passes over the reads only (read-mostly traffic)."""
    by_function: dict[str, list[Scenario]] = defaultdict(list)
    for item in scenarios:
        by_function[functions.get(item.key, "?")].append(item)
    columns = list(by_function.values())
    order = []
    for row in itertools.zip_longest(*columns):
        order += [item for item in row if item is not None]
    return order + [item for _ in range(READ_WEIGHT - 1) for item in order if not item.writes]


def memory_run(
    http: Http,
    worker_pids: Any,
    world: World,
    scenarios: list[Scenario],
    functions: dict,
    total: int = 1000,
    checkpoints: tuple[int, ...] = (10, 100, 1000),
    progress=None,
) -> MemoryRun:
    """``worker_pids()``: the local API's worker processes (one)."""
    run = MemoryRun()
    order = mixed_order(scenarios, functions)
    drivers = {item.name: Driver(item, world) for item in order}
    run.routes = len(drivers)
    pid = worker_pids()[0]
    served = 0
    failed: set[str] = set()
    for item in itertools.cycle(order):
        if served >= total or len(failed) == len(drivers):
            break
        if item.name in failed:
            continue
        driver = drivers[item.name]
        try:
            request = driver.next()
            driver.answered(check(request, http.send(request)))
        except Exception as error:
            failed.add(item.name)
            run.failures.append(f"{item.name}: {type(error).__name__}: {error}"[:300])
            continue
        served += 1
        if served in checkpoints:
            now = worker_pids()
            if pid not in now:
                run.replaced = f"the worker was replaced before request {served} (it died or ran over its timeout)"
                return run
            run.checkpoints[served] = rss_kib(pid)
            if progress:
                progress(f"  memory after {served} requests: {run.checkpoints[served] / 1024:.1f} MiB")
    return run
