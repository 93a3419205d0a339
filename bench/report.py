"""BENCHMARKS.md from one run's measurements: targets first, then every table, then how."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bench.coldstart import BOTO3, ImportTimes
from bench.latency import Floor, MemoryRun, OpCosts, RouteLatency
from bench.roundtrips import READ_LIMIT, WRITE_LIMIT, RouteCount
from bench.scaling import RATIO_LIMIT, Scale
from bench.scenarios import Plan, Scenario, show
from testkit.counter import Call, Calls

LATENCY_LIMIT = 1.5
IMPORT_LIMIT = 1.3
MEMORY_LIMIT = 0.05
FIXED_COST_ROUTE = ("GET", "/api/v4/docs")  # no AWS call: what the local stack itself costs a request

# What each kind of key is read or written for (the legend of the call sequences).
ROLES = {
    "PAT#": "a personal access token, by digest (authentication)",
    "JOB#": "a CI job, by its token's digest",
    "AGENTTOKEN#": "an agent token's lookup item, by digest",
    "MEMBERS#": "memberships (the caller's role, or a members list)",
    "PROJECT#": "Directory: a project; Agents: a project's name index and #STATS",
    "PROJECTPATH#": "project path → id",
    "AGENT#": "an agent's partition (agent A, tokens AT#/RT#, URL configuration U, ci_access mirrors CI#)",
    "CIACCESS#": "ci_access authorisations of a project or group",
    "COUNTER": "an atomic id counter",
    "USER#": "a user",
    "GROUP#": "a group",
    "USERNAME#": "username → user id",
    "NAMESPACE#": "namespace path → user or group",
    "PATID#": "PAT id → digest",
}


@dataclass
class Run:
    command: str
    started: str  # ISO date-time, UTC
    seconds: float
    machine: dict[str, str]
    plan: Plan
    counts: list[RouteCount] = field(default_factory=list)
    floor: Floor | None = None
    costs: OpCosts | None = None
    table_items: dict[str, int] = field(default_factory=dict)
    latencies: list[RouteLatency] = field(default_factory=list)
    imports: list[ImportTimes] = field(default_factory=list)
    scales: list[Scale] = field(default_factory=list)
    memory: MemoryRun | None = None
    profiles: dict[str, dict[str, float]] = field(default_factory=dict)  # route -> ms per request by package
    seeded_notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    skipped_phases: list[str] = field(default_factory=list)
    worst_costs: list[Any] = field(default_factory=list)  # bench.worstcase.RouteCost
    allowed_agents_costs: list[Any] = field(default_factory=list)  # bench.ci_access_cost.AllowedAgentsCost
    routes: set[Any] | None = None
    hot_sizes: dict[str, int] = field(default_factory=dict)  # hot key label -> bytes of a real item
    route_costs: list = field(default_factory=list)  # bench.scale_report.RouteCost
    load: Any = None  # bench.load.LoadRun


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def _x(ratio: float) -> str:
    return "∞" if ratio == float("inf") else f"{ratio:.2f}x"


def _units(units: float) -> str:
    return f"{units:g}"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def _route(item: Scenario) -> str:
    return f"`{item.name}`"


def _calls(calls: Calls | None) -> str:
    return calls.sequence().replace("|", "\\|") if calls else ""


# ---------------------------------------------------------------- target evaluation
@dataclass
class Verdict:
    target: str
    met: bool | None  # None: nothing measured
    result: str


def _latency_ratio(run: Run, latency: RouteLatency) -> float | None:
    count = _count_of(run, latency.scenario)
    if not run.floor or not run.floor.samples or count is None or not latency.samples:
        return None
    trips = count.warm_max("dynamodb")
    return None if trips == 0 else latency.median / (trips * run.floor.median)


def _count_of(run: Run, item: Scenario) -> RouteCount | None:
    return next((count for count in run.counts if count.scenario is item and not count.error), None)


def _fixed(run: Run) -> RouteLatency | None:
    return next((lat for lat in run.latencies if lat.scenario.key == FIXED_COST_ROUTE and lat.samples), None)


def verdicts(run: Run) -> list[Verdict]:
    out = []
    measured = [count for count in run.counts if not count.error]
    if measured:
        kms = [count for count in measured if not count.kms_ok]
        worst = max(measured, key=lambda count: count.warm_max("kms"))
        out.append(
            Verdict(
                "warm requests make no KMS call",
                not kms,
                f"{len(measured) - len(kms)} of {len(measured)} routes make none"
                + (f"; worst {worst.warm_max('kms')} on {_route(worst.scenario)}" if kms else ""),
            )
        )
        for writes, limit, label in ((False, READ_LIMIT, "read"), (True, WRITE_LIMIT, "write")):
            group = [count for count in measured if count.scenario.writes == writes]
            if not group:
                continue
            over = [count for count in group if count.warm_max("dynamodb") > limit]
            worst = max(group, key=lambda count: count.warm_max("dynamodb"))
            text = (
                f"{len(group) - len(over)} of {len(group)} {label} routes within; worst "
                f"{worst.warm_max('dynamodb')} ({_route(worst.scenario)})"
            )
            if over:
                text += "; over: " + ", ".join(f"{_route(c.scenario)} {c.warm_max('dynamodb')}" for c in over)
            out.append(Verdict(f"{label} routes at most {limit} DynamoDB round trips (warm)", not over, text))
    ratios = [(lat, _latency_ratio(run, lat)) for lat in run.latencies]
    ratios = [(lat, ratio) for lat, ratio in ratios if ratio is not None]
    if ratios:
        over = [(lat, ratio) for lat, ratio in ratios if ratio > LATENCY_LIMIT]
        worst_lat, worst = max(ratios, key=lambda pair: pair[1])
        best_lat, best = min(ratios, key=lambda pair: pair[1])
        extra = ""
        fixed = _fixed(run)
        if fixed:
            net = [
                (lat.median - fixed.median) / (_count_of(run, lat.scenario).warm_max("dynamodb") * run.floor.median)
                for lat, _ in ratios
            ]
            extra += f"; net of the local stack: {sum(r <= LATENCY_LIMIT for r in net)} of {len(net)} within"
        if run.costs and run.costs.samples:
            priced = [lat.median / run.costs.price(_count_of(run, lat.scenario).typical) for lat, _ in ratios]
            extra += (
                f'; against each call\'s own cost on moto ("priced"): {sum(r <= LATENCY_LIMIT for r in priced)} '
                f"of {len(priced)} within, worst {_x(max(priced))}"
            )
        out.append(
            Verdict(
                f"median latency at most {LATENCY_LIMIT}x the floor",
                not over,
                f"{len(ratios) - len(over)} of {len(ratios)} routes within; from {_x(best)} "
                f"({_route(best_lat.scenario)}) to {_x(worst)} ({_route(worst_lat.scenario)})" + extra,
            )
        )
    boto3 = next((imp for imp in run.imports if imp.module == BOTO3 and imp.samples), None)
    handlers = [imp for imp in run.imports if imp.module != BOTO3 and imp.samples]
    if boto3 and handlers:
        worst = max(handlers, key=lambda imp: imp.ratio_to(boto3))
        over = [imp for imp in handlers if imp.ratio_to(boto3) > IMPORT_LIMIT]
        out.append(
            Verdict(
                f"every handler module imports in at most {IMPORT_LIMIT:g}x `import boto3`",
                not over,
                f"worst {_x(worst.ratio_to(boto3))} in CPU time (`{worst.module}`, {_ms(worst.cpu_median)} ms "
                f"vs {_ms(boto3.cpu_median)} ms)",
            )
        )
    scales = [scale for scale in run.scales if scale.target and scale.small and scale.large and not scale.error]
    if scales:
        over = [scale for scale in scales if not scale.met]
        worst = max(scales, key=lambda scale: max(scale.items_ratio, scale.trips_ratio, scale.capacity_ratio))
        out.append(
            Verdict(
                f"every scaling ratio (items read, round trips, capacity units) at most {RATIO_LIMIT}x",
                not over,
                f"{len(scales) - len(over)} of {len(scales)} within; worst "
                f"{_x(max(worst.items_ratio, worst.trips_ratio, worst.capacity_ratio))} ({worst.name})",
            )
        )
    if run.memory and {10, 1000} <= set(run.memory.checkpoints):
        growth = run.memory.growth(10, 1000)
        out.append(
            Verdict(
                f"memory growth under {MEMORY_LIMIT:.0%} (RSS of a worker, 1,000 vs 10 requests)",
                growth < MEMORY_LIMIT,
                f"{growth:+.1%} ({run.memory.checkpoints[10] / 1024:.1f} → "
                f"{run.memory.checkpoints[1000] / 1024:.1f} MiB)",
            )
        )
    return out


# ---------------------------------------------------------------- sections
def _header(run: Run) -> list[str]:
    machine = run.machine
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `{run.command}` on {run.started} in {run.seconds / 60:.1f} min. Do not edit: run "
        "`make bench` again (it rewrites this file).",
        "",
        "| machine | |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in machine.items()]
    lines += [
        "",
        "Everything runs on this machine: the functions' real handlers, a moto server "
        "(`devtools.local_api`'s, one call at a time, in its own process) with the tables and keys built from "
        "`template.yaml`, and for latency and memory the local API (`devtools.local_api.LocalApi`: HTTP gateway, "
        "API Gateway REST events, one worker process standing for one warm Lambda container). These machines "
        "are noisy (2 cores), so every figure below is a count, or a ratio of two timings taken in this same run.",
        "",
    ]
    return lines


def _targets(run: Run) -> list[str]:
    lines = ["## Targets", "", "| target | verdict | measured |", "|---|---|---|"]
    for verdict in verdicts(run):
        lines.append(f"| {verdict.target} | {_verdict(bool(verdict.met))} | {verdict.result} |")
    return [*lines, ""]


def _round_trips(run: Run) -> list[str]:
    lines = [
        "## Round trips per request",
        "",
        f"Counted in process with botocore event hooks on the clients `cluster_agents.aws.client()` builds "
        f"(`before-parameter-build` / `after-call`), {run.options.get('repeats', 3)} warm requests per route after "
        "one cold one. **Warm** is the second request of a container onwards (the highest count of the warm "
        "requests; they were identical unless marked ≠). **Cold** is the first request after every per-container "
        "cache was dropped (new clients, settings, the KMS-derived digest key, cached projects and groups). A "
        "transaction is one round trip. Items read: `ScannedCount` of queries plus items returned by reads. "
        f"Targets: reads ≤ {READ_LIMIT}, writes ≤ {WRITE_LIMIT} DynamoDB round trips, no KMS call when warm.",
        "",
        "**Own ms** is the median time of a warm request in this process outside botocore's calls (from parameter "
        "building to the parsed answer): the handler's own work (Powertools, pydantic, the layer, JSON).",
        "",
        "**RCU / WCU** are the DynamoDB read and write capacity units of a warm request (the highest of the warm "
        "requests), computed by `testkit/capacity.py` from the sizes of the whole items each call touched, by "
        "DynamoDB's documented rules (strongly consistent reads 1 unit per 4 KB, a Query's items summed then "
        "rounded; writes 1 unit per 1 KB of the larger image; transactions twice): moto answers "
        "`ReturnConsumedCapacity` with placeholders (1.0 for a 5 KB PutItem, nothing for transactions), so its "
        "figures are not used.",
        "",
        "| route | function | DynamoDB warm | KMS warm | items read | RCU | WCU | DynamoDB cold | KMS cold | own ms | "
        "target | warm calls |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for count in run.counts:
        if count.error:
            lines.append(
                f"| {_route(count.scenario)} | {count.function} | - | - | - | - | - | - | - | - | failed | "
                f"{count.error.replace('|', '/')} |"
            )
            continue
        ok = count.ddb_ok and count.kms_ok
        mark = "" if count.stable else " ≠"
        lines.append(
            f"| {_route(count.scenario)} | {count.function} | {count.warm_max('dynamodb')}{mark} | "
            f"{count.warm_max('kms')} | {count.warm_items} | {_units(count.warm_read_units)} | "
            f"{_units(count.warm_write_units)} | {count.cold.dynamodb if count.cold else '-'} | "
            f"{count.cold.kms if count.cold else '-'} | "
            f"{_ms(count.own_seconds) if count.own_seconds is not None else ''} | "
            f"{'met' if ok else '**not met**'} (≤ {count.limit}) | "
            f"{_calls(count.typical)} |"
        )
    used = {kind for count in run.counts for calls in count.warm for call in calls.calls for kind in _kinds(call)}
    legend = [f"`{kind}` {ROLES[kind]}" for kind in ROLES if kind in used]
    if legend:
        lines += ["", "Key kinds in the call sequences: " + "; ".join(legend) + "."]
    if run.profiles:
        groups = list(dict.fromkeys(group for profile in run.profiles.values() for group in profile))
        lines += [
            "",
            "Where a warm request's time goes in process (cProfile, ms per request by package; built-ins "
            "charged to their callers; profiling slows everything down, so compare within a row):",
            "",
            "| route | " + " | ".join(groups) + " |",
            "|---|" + "---|" * len(groups),
        ]
        for route, profile in run.profiles.items():
            lines.append(f"| `{route}` | " + " | ".join(f"{profile.get(group, 0.0):.2f}" for group in groups) + " |")
    return [*lines, ""]


def _latency(run: Run) -> list[str]:
    if not run.latencies or not run.floor:
        return ["## Latency against the floor", "", "Not measured in this run.", ""]
    floor = run.floor
    fixed = _fixed(run)
    lines = [
        "## Latency against the floor",
        "",
        f"Through the local API over one keep-alive HTTP connection, one request at a time, in rounds (every "
        f"route once per round, so the machine's ups and downs hit all routes alike): "
        f"{run.options.get('latency_requests')} timed rounds after {run.options.get('warmup')} warm-up ones; "
        "whatever a request needs (a user to add, a token to revoke) is prepared untimed before it. "
        f"**Floor** = warm DynamoDB round trips x the median raw `GetItem` (boto3, strongly consistent, same "
        f"moto server, one timed right after every request): **{_ms(floor.median)} ms** "
        f"(p95 {_ms(floor.p95)} ms, {len(floor.samples)} samples). Target: median ≤ 1.5x floor.",
    ]
    if fixed:
        lines += [
            "",
            f"Fixed cost of the local stack: `GET /docs` (no AWS call) has a median of "
            f"**{_ms(fixed.median)} ms** (p95 {_ms(fixed.p95)}): HTTP, the gateway, the pipe to the worker, "
            "Powertools' resolver and the JSON event.",
        ]
    costs = run.costs
    if costs and costs.samples:
        sizes = ", ".join(f"{table} {count:,} items" for table, count in run.table_items.items())
        rows = []
        for table in costs.tables:
            getitem = costs.median("GetItem", table)
            cells = [
                f"{_ms(costs.median(op, table))} ({_x(costs.median(op, table) / getitem)})"
                for op in (
                    "GetItem",
                    "BatchGetItem",
                    "Query",
                    "UpdateItem",
                    "TransactWriteItems1",
                    "TransactWriteItems3",
                )
            ]
            rows.append(f"| {table} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "What each kind of call costs on this moto server (ms, median, and ÷ GetItem), timed once per "
            f"round (tables at the end: {sizes}). moto's transactions deep-copy the "
            "whole table once per action and its queries walk every item of the table, so on moto a "
            "write costs several GetItems where DynamoDB charges about one round trip each; the "
            "**priced** columns use these costs for each of the route's own calls instead of a GetItem.",
            "",
            "| table | GetItem | BatchGetItem (2 keys) | Query | UpdateItem | TransactWriteItems, 1 action | "
            "TransactWriteItems, 3 actions |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    lines += [
        "",
        "**Net of the local stack** subtracts `GET /docs`'s median (the emulator's HTTP, gateway and "
        "pipe, which API Gateway and Lambda replace with their own) before dividing by the floor.",
        "",
        "| route | DynamoDB trips | median ms | p95 ms | floor ms | median / floor | p95 / floor | "
        "net of the local stack / floor | priced calls ms | median / priced | "
        "target (median / floor ≤ 1.5) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for latency in run.latencies:
        count = _count_of(run, latency.scenario)
        if latency.error or not latency.samples:
            lines.append(f"| {_route(latency.scenario)} | | | | | | | | | | failed: {latency.error} |")
            continue
        if count is None:
            lines.append(
                f"| {_route(latency.scenario)} | ? | {_ms(latency.median)} | {_ms(latency.p95)} | | | | | | | "
                "(round trips not counted in this run) |"
            )
            continue
        trips = count.warm_max("dynamodb")
        base = trips * floor.median
        if trips == 0:
            lines.append(
                f"| {_route(latency.scenario)} | 0 | {_ms(latency.median)} | {_ms(latency.p95)} | 0 | n/a | "
                "n/a | n/a | | | n/a (no DynamoDB call) |"
            )
            continue
        priced = costs.price(count.typical) if costs and costs.samples and count and count.typical else None
        ratio = latency.median / base
        lines.append(
            f"| {_route(latency.scenario)} | {trips} | {_ms(latency.median)} | {_ms(latency.p95)} | {_ms(base)} | "
            f"{_x(ratio)} | {_x(latency.p95 / base)} | "
            f"{_x((latency.median - fixed.median) / base) if fixed else ''} | {_ms(priced) if priced else ''} | "
            f"{_x(latency.median / priced) if priced else ''} | "
            f"{'met' if ratio <= LATENCY_LIMIT else '**not met**'} |"
        )
    return [*lines, ""]


def _cold_start(run: Run) -> list[str]:
    if not run.imports:
        return ["## Cold start", "", "Not measured in this run.", ""]
    boto3 = next((imp for imp in run.imports if imp.module == BOTO3), None)
    lines = [
        "## Cold start",
        "",
        f"Time to import each function's handler module (`functions/<dir>/<dir>_app.py`, from the template's "
        f"`Handler`) in a fresh `python` with the function's code dir and the layer on `sys.path` and the "
        f"template's environment (tracing as deployed: `POWERTOOLS_TRACE_DISABLED` unset), against a bare "
        f"`import boto3` in a fresh `python`: {run.options.get('import_repeats')} interleaved rounds after one "
        "untimed round (bytecode caches written). Interpreter start-up is not included. Each import is timed in "
        "wall clock and in the process's CPU time; the ratio is CPU time, each round's handler ÷ the same round's "
        "`import boto3`, median over the rounds (wall time on this shared machine also counts the time other work "
        f"held the cores). Target: ≤ {IMPORT_LIMIT:g}x `import boto3`.",
        "",
    ]
    if boto3 and boto3.samples:
        lines.append(
            f"`import boto3`: **{_ms(boto3.cpu_median)} ms** CPU median ({', '.join(_ms(s) for s in boto3.cpu_samples)}"
            f" ms); wall clock {_ms(boto3.median)} ms median."
        )
        lines.append("")
    lines += [
        "| function | handler module | CPU median ms | wall median ms | ÷ `import boto3` (CPU, per round) | target | "
        "where the time goes "
        "(self time by top-level package, one `-X importtime` run) |",
        "|---|---|---|---|---|---|---|",
    ]
    for imp in run.imports:
        if imp.module == BOTO3:
            continue
        packages = ", ".join(f"{name} {_ms(seconds)}" for name, seconds in list(imp.by_package.items())[:6])
        if imp.error or not imp.samples or not boto3 or not boto3.samples:
            lines.append(f"| {imp.function} | `{imp.module}` | | | | failed | {imp.error} |")
            continue
        ratio = imp.ratio_to(boto3)
        lines.append(
            f"| {imp.function} | `{imp.module}` | {_ms(imp.cpu_median)} | {_ms(imp.median)} | {_x(ratio)} | "
            f"{'met' if ratio <= IMPORT_LIMIT else '**not met**'} | {packages} |"
        )
    if boto3 and boto3.by_package:
        lines += [
            "",
            "`import boto3` itself: "
            + ", ".join(f"{name} {_ms(seconds)}" for name, seconds in list(boto3.by_package.items())[:6])
            + " ms. "
            "The handler modules do not import boto3 (`cluster_agents.aws` defers it to the first client), so a "
            "real cold start pays the handler import and then boto3's on the first request.",
        ]
    return [*lines, ""]


def _scaling(run: Run) -> list[str]:
    if not run.scales:
        return ["## Scaling", "", "Not measured in this run.", ""]
    lines = [
        "## Scaling",
        "",
        "Counted in process (warm request, same hooks as above) against a second moto server, in DynamoDB items "
        "read, round trips and capacity units (read + write, computed from the items' sizes as in the round-trip "
        "table) — not in time: moto scans its whole table on every query, so its latency grows "
        "with the table whatever the request does. Target: large ÷ small ≤ 1.3x for all three.",
        "",
        "| request | small → large | items read | ratio | DynamoDB round trips | ratio | capacity units | ratio | "
        "target | note |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scale in run.scales:
        if scale.error and not (scale.small and scale.large):
            lines.append(
                f"| {scale.name} | {scale.small_label} → {scale.large_label} | | | | | | | - | {scale.error} |"
            )
            continue
        verdict = ("met" if scale.met else "**not met**") if scale.target else "(information)"
        note = "; ".join(part for part in (scale.check, scale.note, scale.error or "") if part)
        lines.append(
            f"| {scale.name} | {scale.small_label} → {scale.large_label} | {scale.small.items_read} → "
            f"{scale.large.items_read} | {_x(scale.items_ratio)} | {scale.small.dynamodb} → {scale.large.dynamodb} | "
            f"{_x(scale.trips_ratio)} | {_units(scale.small.capacity.total)} → {_units(scale.large.capacity.total)} | "
            f"{_x(scale.capacity_ratio)} | {verdict} | {note} |"
        )
    lines += ["", "Calls of the large cases:", ""]
    for scale in run.scales:
        if scale.large:
            lines.append(f"- {scale.name}, {scale.large_label}: {_calls(scale.large)}")
    if run.seeded_notes:
        lines += ["", "How the large cases were made: " + " ".join(run.seeded_notes)]
    return [*lines, ""]


def _memory(run: Run) -> list[str]:
    if not run.memory or not run.memory.checkpoints:
        why = run.memory.replaced if run.memory and run.memory.replaced else "not measured in this run"
        return ["## Memory", "", why[0].upper() + why[1:] + ".", ""]
    memory = run.memory
    lines = [
        "## Memory",
        "",
        f"Resident set size (`VmRSS`) of the one worker process of a fresh local API on a fresh moto server (one "
        f"worker = one warm Lambda container hosting every function) while it serves a mix of {memory.routes} "
        "routes' requests, round-robin over the functions (so the first few requests already load every "
        "handler), every GET route three times per cycle and every write once (read-mostly, like real traffic).",
        "",
        "| requests served | RSS MiB |",
        "|---|---|",
    ]
    lines += [f"| {served:,} | {kib / 1024:.1f} |" for served, kib in sorted(memory.checkpoints.items())]
    if {10, 1000} <= set(memory.checkpoints):
        lines += ["", f"Growth from 10 to 1,000 requests: **{memory.growth(10, 1000):+.1%}** (target < 5%)."]
    if {100, 1000} <= set(memory.checkpoints):
        lines += [
            "",
            f"From 100 to 1,000 requests (every route served at least once by request 100): "
            f"**{memory.growth(100, 1000):+.1%}**. What grows before that is each route's first call "
            "(Powertools builds a route's validation models on its first request; first clients, "
            "first transaction, first envelope key), not something that grows with the traffic.",
        ]
    if memory.replaced:
        lines += ["", f"Stopped early: {memory.replaced}."]
    if memory.failures:
        lines += ["", "Dropped from the mix after failing: " + "; ".join(memory.failures)]
    return [*lines, ""]


def _not_measured(run: Run) -> list[str]:
    lines = ["## Routes not measured", ""]
    items = [
        f"- `{show(key)}`: in template.yaml but no scenario in `bench/scenarios.py`" for key in run.plan.unscripted
    ]
    items += [f"- `{count.scenario.name}`: its scenario failed ({count.error})" for count in run.counts if count.error]
    items += [f"- phase skipped: {phase}" for phase in run.skipped_phases]
    return lines + (items or ["Every route of SPEC in template.yaml was measured."]) + [""]


def _why(run: Run) -> list[str]:
    """By how much and why, for every target not met (from this run's data)."""
    lines = ["## Where targets are not met, by how much and why", ""]
    found = False
    measured = [count for count in run.counts if not count.error]
    for count in measured:
        if not count.kms_ok:
            found = True
            kms = [call for calls in count.warm for call in calls.calls if call.service == "kms"]
            lines.append(
                f"- {_route(count.scenario)} calls KMS on warm requests: "
                f"{', '.join(sorted({c.operation for c in kms}))}."
            )
        if not count.ddb_ok:
            found = True
            over = count.warm_max("dynamodb") - count.limit
            notes = _trip_notes(count.typical)
            lines.append(
                f"- {_route(count.scenario)}: {count.warm_max('dynamodb')} DynamoDB round trips, {over} over "
                f"the {count.limit} allowed: {_calls(count.typical)}" + (f". {' '.join(notes)}" if notes else ".")
            )
    fixed = _fixed(run)
    slow = [(lat, _latency_ratio(run, lat)) for lat in run.latencies]
    slow = [(lat, ratio) for lat, ratio in slow if ratio is not None and ratio > LATENCY_LIMIT]
    if slow:
        found = True
        own = [count.own_seconds for count in run.counts if count.own_seconds is not None and not count.error]
        priced = []
        for lat, _ in slow:
            count = _count_of(run, lat.scenario)
            if run.costs and run.costs.samples and count and count.typical:
                priced.append(lat.median / run.costs.price(count.typical))
        lines.append(
            f"- Latency: {len(slow)} routes over {LATENCY_LIMIT}x the floor, by "
            f"{_x(min(r for _, r in slow))} to {_x(max(r for _, r in slow))}"
            + (f" (worst: {_route(max(slow, key=lambda pair: pair[1])[0].scenario)})" if slow else "")
            + ". "
            + (f"The local stack's own cost is small ({_ms(fixed.median)} ms for `GET /docs`). " if fixed else "")
            + (
                "Priced with what each of their calls costs on this moto (see the table above: a transaction costs "
                "several GetItems here), the same medians are "
                f"{_x(min(priced))} to {_x(max(priced))} of their calls' raw cost. "
                if priced
                else ""
            )
            + (
                f"The handlers' own work (in process, outside botocore's calls) is {_ms(min(own))} to {_ms(max(own))} "
                "ms a request (column *own ms* of the round-trip table); the rest is the worker, the client and "
                "moto sharing two cores. "
                if own
                else ""
            )
            + "The per-route figures are in the latency table."
        )
    boto3 = next((imp for imp in run.imports if imp.module == BOTO3 and imp.samples), None)
    for imp in run.imports:
        if boto3 and imp.module != BOTO3 and imp.samples and imp.median / boto3.median > IMPORT_LIMIT:
            found = True
            lines.append(
                f"- `{imp.module}` imports in {_x(imp.median / boto3.median)} `import boto3`: "
                + ", ".join(f"{name} {_ms(seconds)} ms" for name, seconds in list(imp.by_package.items())[:5])
            )
    for scale in run.scales:
        if scale.target and scale.small and scale.large and not scale.met:
            found = True
            lines.append(
                f"- {scale.name}: items read {scale.small.items_read} → {scale.large.items_read} "
                f"({_x(scale.items_ratio)}), round trips {scale.small.dynamodb} → {scale.large.dynamodb} "
                f"({_x(scale.trips_ratio)}), capacity units {_units(scale.small.capacity.total)} → "
                f"{_units(scale.large.capacity.total)} ({_x(scale.capacity_ratio)})"
                + (f"; {scale.note}" if scale.note else "")
                + f"; large: {_calls(scale.large)}"
            )
    if run.memory and {10, 1000} <= set(run.memory.checkpoints) and run.memory.growth(10, 1000) >= MEMORY_LIMIT:
        found = True
        steady = (
            f"; from 100 to 1,000 it grows {run.memory.growth(100, 1000):+.1%}, so the growth is the first "
            "call of routes not yet served by request 10 (one worker here hosts all "
            f"{run.memory.routes} routes of every function; a Lambda container hosts one function's)"
            if 100 in run.memory.checkpoints
            else ""
        )
        lines.append(
            f"- Memory grows {run.memory.growth(10, 1000):+.1%} from 10 to 1,000 requests "
            f"({run.memory.checkpoints[10] / 1024:.1f} → {run.memory.checkpoints[1000] / 1024:.1f} MiB)" + steady + "."
        )
    if not found:
        lines.append("Every target is met.")
    return [*lines, ""]


def _trip_notes(calls: Calls | None) -> list[str]:
    """What in a call sequence costs round trips that a different access pattern would save."""
    if not calls:
        return []
    dynamo = [call for call in calls.calls if call.service == "dynamodb"]
    notes = []
    reads = [call for call in dynamo if call.operation in ("GetItem", "BatchGetItem", "Query")]
    seen: dict[tuple[str, str], int] = {}
    for call in reads:
        seen[(call.table, call.keys)] = seen.get((call.table, call.keys), 0) + 1
    for (table, keys), times in seen.items():
        if times > 1:
            notes.append(f"`{keys}` ({table}) is read {times} times in separate round trips.")
    counters = [call for call in dynamo if call.operation == "UpdateItem" and call.keys.startswith("COUNTER")]
    if counters:
        notes.append(
            f"{len(counters)} round trip{'s' if len(counters) > 1 else ''} only to allocate "
            f"id{'s' if len(counters) > 1 else ''} (`COUNTER` UpdateItem) before the write: a refill of the "
            "container's block of ids, one per block (`store/ids.py`), none for the other creations."
        )
    for index, call in enumerate(dynamo):
        if call.operation == "TransactWriteItems" and any(
            later.operation in ("Query", "GetItem") for later in dynamo[index + 1 :]
        ):
            notes.append("It reads again after its transaction.")
            break
    if len(reads) >= 4:
        notes.append(f"Its {len(reads)} reads run one after another, each waiting for the one before.")
    return notes


def _kinds(call: Call) -> list[str]:
    return re.findall(r"[A-Z]+#|COUNTER", call.keys) if call.service == "dynamodb" else []


def _method(run: Run) -> list[str]:
    sizes = run.options.get("sizes")
    return [
        "## How it is measured",
        "",
        "- `make bench` = `.venv/bin/python -m bench` (`bench/__main__.py`; `--help` for the knobs). It starts a "
        "moto server, creates the template's tables and keys in it, seeds `root`, and drives every route of "
        "template.yaml with a scenario from `bench/scenarios.py` that sets up what it needs through the API "
        "itself (`testkit/`: the in-process client and the world builder the tests use too).",
        "- Round trips: in this process, the handlers invoked with `devtools.apigw.rest_event` events and the "
        "functions' environment from `devtools.template.create_resources(...).function_environment()`; counts "
        "from botocore's event system on the clients of `cluster_agents.aws.client()` (`testkit/counter.py`). "
        "A call through any other client would not be counted.",
        "- Latency: `devtools.local_api.LocalApi(workers=1)` aimed at the same moto server "
        "(`AWS_ENDPOINT_URL`), `http.client` keep-alive; the floor's `GetItem`s are interleaved with the routes.",
        "- Cold start: `bench/coldstart.py`, one fresh interpreter per sample.",
        "- Scaling: a second moto server; small cases through the API, large ones grown in bulk with "
        "BatchWriteItem from raw copies of the items the API wrote, under ids reserved from the atomic "
        "counters (the API is far too slow on moto for 100,000 PATs). Sizes: "
        + (f"{sizes.agents:,} agents, {sizes.revoked:,} revoked tokens, {sizes.pats:,} PATs." if sizes else ""),
        "- Capacity units: `testkit/consumed.py` reads, with a client of its own that has no hooks, the whole items "
        "each DynamoDB call touched (a write's item before and after it; a projected or filtered read's evaluated "
        "items again without projection or filter) and `testkit/capacity.py` applies DynamoDB's documented sizing "
        "rules to them (unit-tested against the Developer Guide's examples). These probe reads are not counted "
        "as round trips and their time is taken out of *own ms*.",
        "- Load run: `bench/load.py` (also `make load`): a fresh moto server, the world made through the API, "
        "`LocalApi` with several workers, locust (`bench/locustfile.py`) in a child process on 127.0.0.1, bounded "
        "in seconds and requests, then `cluster_agents.ops.invariants` over the agents table.",
        "- Memory: a fresh moto server and a fresh `LocalApi(workers=1)`, `/proc/<worker pid>/status` after 10, "
        "100 and 1,000 requests of a round-robin mix.",
        "- Not measured here: real DynamoDB/KMS latency, Lambda's own init (runtime start, layer extraction), "
        "retries (standard mode, up to 3 attempts) which would add round trips under throttling.",
        "",
    ]


def render(run: Run) -> str:
    from bench import load, scale_report
    from bench.cost_report import render_section

    bounded = render_section(run.worst_costs, run.allowed_agents_costs, run.routes)
    sections = [
        _header(run),
        _targets(run),
        _round_trips(run),
        _latency(run),
        bounded,
        _cold_start(run),
        _scaling(run),
        scale_report.deep_pages(run.scales),
        scale_report.hot_keys(run.hot_sizes, {row.route: row.seconds for row in run.route_costs})
        if run.hot_sizes
        else [],
        load.section(run.load),
        scale_report.costs(run.route_costs),
        _memory(run),
        _why(run),
        _not_measured(run),
        _method(run),
    ]
    return "\n".join(line for section in sections for line in section).rstrip() + "\n"
