"""Round trips per request: each route's scenario run in this process, its AWS calls counted.

For every route: the first request after a container reset (cold: settings, clients, the
KMS-derived digest key and the per-container caches all rebuilt), then ``repeats`` warm ones."""

from __future__ import annotations

import cProfile
import pstats
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field

from bench.scenarios import Driver, Scenario, World
from testkit.client import InProcess, check
from testkit.container import reset_caches
from testkit.counter import Calls, RoundTrips

READ_LIMIT = 3  # the most DynamoDB round trips of a warm read (and of a write, below)
WRITE_LIMIT = 4


@dataclass
class RouteCount:
    scenario: Scenario
    function: str
    cold: Calls | None = None
    warm: list[Calls] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)  # seconds, each warm request in process
    error: str | None = None

    @property
    def own_seconds(self) -> float | None:
        """Median time of a warm request spent outside botocore's calls: the handler's own work."""
        if not self.elapsed:
            return None
        return statistics.median(
            total - calls.aws_seconds - calls.probe_seconds
            for total, calls in zip(self.elapsed, self.warm, strict=True)
        )

    @property
    def limit(self) -> int:
        return WRITE_LIMIT if self.scenario.writes else READ_LIMIT

    def warm_max(self, service: str) -> int:
        return max((calls.count(service) for calls in self.warm), default=0)

    @property
    def warm_items(self) -> int:
        return max((calls.items_read for calls in self.warm), default=0)

    @property
    def warm_read_units(self) -> float:
        return max((calls.read_units for calls in self.warm), default=0.0)

    @property
    def warm_write_units(self) -> float:
        return max((calls.write_units for calls in self.warm), default=0.0)

    @property
    def stable(self) -> bool:
        """Every warm request made the same calls."""
        return len({calls.sequence() for calls in self.warm}) <= 1

    @property
    def typical(self) -> Calls | None:
        """The warm request with the most DynamoDB calls (they are usually all alike)."""
        return max(reversed(self.warm), key=lambda calls: calls.dynamodb) if self.warm else None

    @property
    def ddb_ok(self) -> bool:
        return self.warm_max("dynamodb") <= self.limit

    @property
    def kms_ok(self) -> bool:
        return self.warm_max("kms") == 0


def count_route(
    item: Scenario, function: str, world: World, client: InProcess, counter: RoundTrips, repeats: int = 3
) -> RouteCount:
    result = RouteCount(item, function)
    driver = Driver(item, world)
    try:
        request = driver.next()  # set-up and preparation: not counted
        reset_caches()  # the next request is a fresh container's first
        with counter.measure() as cold:
            response = client.send(request)
        driver.answered(check(request, response))
        result.cold = cold
        for _ in range(repeats):
            request = driver.next()
            with counter.measure() as warm:
                started = time.perf_counter()
                response = client.send(request)
                elapsed = time.perf_counter() - started
            driver.answered(check(request, response))
            result.warm.append(warm)
            result.elapsed.append(elapsed)
    except Exception as error:  # a route being written right now may fail: report, go on
        result.error = f"{type(error).__name__}: {error}"[:400]
    return result


def count_all(
    scenarios: list[Scenario], functions: dict, world: World, client: InProcess, repeats: int = 3, progress=None
) -> list[RouteCount]:
    counter = RoundTrips()
    results = []
    for item in scenarios:
        results.append(count_route(item, functions.get(item.key, "?"), world, client, counter, repeats))
        if progress:
            progress(
                f"  round trips {item.name}: "
                + (
                    results[-1].error
                    or f"{results[-1].warm_max('dynamodb')} DynamoDB, {results[-1].warm_max('kms')} KMS"
                )
            )
    return results


# ---------------------------------------------------------------- where a handler's own time goes
_GROUPS = (
    (
        "botocore and HTTP (inside the AWS calls)",
        (
            "/botocore/",
            "/urllib3/",
            "/http/",
            "/socket.py",
            "/ssl.py",
            "/boto3/",
            "/email/",
            "/dateutil/",
            "/hmac.py",
            "/selectors.py",
            "/jmespath/",
            "socket",
            "_ssl",
            "select",
        ),
    ),
    (
        "Powertools: OpenAPI validation",
        ("/aws_lambda_powertools/event_handler/openapi/", "/aws_lambda_powertools/event_handler/middlewares/"),
    ),
    ("Powertools: resolver, logger, metrics", ("/aws_lambda_powertools/",)),
    ("pydantic", ("/pydantic/", "/pydantic_core/", "/annotated_types/", "/typing_extensions.py", "pydantic_core")),
    ("cluster_agents (layer) and the function", ("/cluster_agents/", "/functions/")),
    ("json", ("/json/", "_json")),
)


def _group(filename: str, name: str) -> str:
    where = name if filename == "~" else filename  # built-ins: "<method 'recv_into' of '_socket.socket'...>"
    for label, markers in _GROUPS:
        if any(marker in where for marker in markers):
            return label
    return "other (Python runtime, bench harness)"


def profile_route(item: Scenario, world: World, client: InProcess, requests: int = 30) -> dict[str, float]:
    """Milliseconds per warm request by where the time went (cProfile ``tottime`` by package)."""
    driver = Driver(item, world)
    for _ in range(2):
        request = driver.next()
        driver.answered(check(request, client.send(request)))
    profile = cProfile.Profile()
    for _ in range(requests):
        request = driver.next()
        profile.enable()
        response = client.send(request)
        profile.disable()
        driver.answered(check(request, response))
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, name), (_, _, tottime, _, callers) in pstats.Stats(profile).stats.items():
        group = _group(filename, name)
        if filename == "~" and group.startswith("other") and callers:  # a built-in: charge its callers
            for (caller_file, _, caller_name), caller_row in callers.items():
                totals[_group(caller_file, caller_name)] += caller_row[2] * 1000 / requests
            continue
        totals[group] += tottime * 1000 / requests
    return dict(sorted(totals.items(), key=lambda pair: -pair[1]))
