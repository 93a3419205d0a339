"""The load run (``make load``, and a phase of ``make bench``): locust against the local API on
loopback, a mixed traffic shape (bench/locustfile.py), bounded in time and in requests, then the
invariant checker over the agents table.

    .venv/bin/python -m bench.load --seconds 20 --requests 3000

A fresh moto server; the world (a group, a project with agents and tokens, running jobs, an
agent authorising the group through ci_access) is made through the API in this process, then
``devtools.local_api.LocalApi`` serves it with ``workers`` processes and locust runs in a child
process (it patches the standard library with gevent, so it never runs inside the bench)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RouteLoad:
    name: str
    requests: int
    failures: int
    p50_ms: float
    p99_ms: float
    rps: float


@dataclass
class LoadRun:
    seconds: float = 0.0
    users: int = 0
    workers: int = 0
    max_requests: int = 0
    routes: list[RouteLoad] = field(default_factory=list)
    invariants: str = ""  # the checker's summary line
    invariants_ok: bool | None = None
    error: str | None = None

    @property
    def requests(self) -> int:
        return sum(route.requests for route in self.routes)

    @property
    def failures(self) -> int:
        return sum(route.failures for route in self.routes)

    @property
    def rps(self) -> float:
        return sum(route.rps for route in self.routes)


def run(seconds: int = 60, max_requests: int = 20_000, users: int = 8, workers: int = 2, progress=None) -> LoadRun:
    from bench.scenarios import World
    from bench.stack import KAS_SECRET, ROOT_TOKEN, Container, MotoServer
    from devtools import template as cfn
    from devtools.local_api import LocalApi
    from testkit.client import InProcess

    result = LoadRun(users=users, workers=workers, max_requests=max_requests)
    try:
        with MotoServer() as store:
            container = Container().use(store.endpoint)
            world = World(InProcess(cfn.functions()), secrets.token_hex(3), container)
            fleet = world.fleet
            agent_ids = [world.agent(fleet["id"], "loaded") for _ in range(5)]
            agent_tokens = [world.token(fleet["id"], agent_id)[1] for agent_id in agent_ids]
            job_tokens = [world.job(fleet["id"], world.maintainer.id)[1] for _ in range(5)]
            _ = world.authorised_elsewhere
            config = {
                "kas_secret": KAS_SECRET,
                "max_requests": max_requests,
                "project_id": fleet["id"],
                "scratch_id": world.scratch["id"],
                "group_path": world.bench_group["full_path"],
                "agent_ids": agent_ids,
                "agent_tokens": agent_tokens,
                "job_tokens": job_tokens,
                "maintainer_token": world.maintainer.token,
            }
            overrides = {"AWS_ENDPOINT_URL": store.endpoint, "ROOT_TOKEN": ROOT_TOKEN, "KAS_SECRET": KAS_SECRET}
            with (
                LocalApi(port=0, workers=workers, seed=True, env_overrides=overrides) as api,
                tempfile.TemporaryDirectory(prefix="bench-load-") as scratch,
            ):
                config_path = Path(scratch, "config.json")
                config_path.write_text(json.dumps(config), encoding="utf-8")
                started = time.monotonic()
                done = _locust(api.port, config_path, Path(scratch, "run"), seconds, users)
                result.seconds = time.monotonic() - started
                result.routes = _stats(Path(scratch, "run_stats.csv"))
                if not result.routes:
                    result.error = (done.stderr.strip().splitlines() or ["locust wrote no statistics"])[-1][:300]
            result.invariants, result.invariants_ok = _check(container.agents_table)
    except Exception as error:  # report, never break the rest of the bench
        result.error = f"{type(error).__name__}: {error}"[:400]
    if progress:
        progress(
            f"  load: {result.requests:,} requests, {result.failures} failures, {result.rps:.0f}/s; "
            f"invariants: {result.invariants or result.error}"
        )
    return result


def _locust(port: int, config: Path, prefix: Path, seconds: int, users: int) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(ROOT / "bench" / "locustfile.py"),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        f"http://127.0.0.1:{port}",
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "5",
        "--loglevel",
        "WARNING",
    ]
    env = {**os.environ, "LOAD_CONFIG": str(config)}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=seconds + 120, check=False)


def _stats(path: Path) -> list[RouteLoad]:
    if not path.exists():
        return []
    routes = []
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["Name"] == "Aggregated":
                continue
            routes.append(
                RouteLoad(
                    row["Name"],
                    int(row["Request Count"]),
                    int(row["Failure Count"]),
                    float(row["50%"] or 0),
                    float(row["99%"] or 0),
                    float(row["Requests/s"] or 0),
                )
            )
    return sorted(routes, key=lambda route: -route.requests)


def _check(table: str) -> tuple[str, bool]:
    from cluster_agents.ops.invariants import check_items

    from devtools.check import scan

    report = check_items(scan(table))
    return (f"{report.items_read:,} items, {report.agents:,} agents, {len(report.violations)} violation(s)", report.ok)


# ---------------------------------------------------------------- BENCHMARKS.md
def section(load: LoadRun | None) -> list[str]:
    lines = ["## Load run", ""]
    if load is None:
        return [*lines, "Not run in this run (`make load`, or `make bench` without `--skip load`).", ""]
    if load.error and not load.routes:
        return [*lines, f"Failed: {load.error}", ""]
    total = load.requests
    fastest = min((route.p50_ms for route in load.routes if route.p50_ms), default=0) or 1
    lines += [
        f"locust ({len(load.routes)} request kinds, `bench/locustfile.py`) against the local API on 127.0.0.1: "
        f"{load.users} concurrent users without think time, {load.workers} worker processes (each one warm "
        f"Lambda container hosting every function) on one moto server, all on this machine's "
        f"{os.cpu_count()} cores; bounded to {load.seconds:.0f} s and {load.max_requests:,} requests. The shape is "
        "GitLab's: the agent server's `agent_info` and CI jobs' `allowed_agents` dominate, creations are rare. "
        "Absolute times are this shared machine's and moto's; compare the ratios.",
        "",
        f"**{total:,} requests, {load.failures} errors** ({load.failures / total:.2%} of them); throughput "
        f"{load.rps:.1f} requests/s in all, **{load.rps / max(1, load.workers):.1f} per worker**. Invariant checker "
        f"over the agents table afterwards: {load.invariants} — "
        + ("**clean**." if load.invariants_ok else "**VIOLATIONS**." if load.invariants_ok is False else "not run.")
        + (f" ({load.error})" if load.error else ""),
        "",
        "| route | requests | share | errors | p50 ms | p99 ms | p99 / p50 | p50 / fastest route's p50 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for route in load.routes:
        lines.append(
            f"| {route.name} | {route.requests:,} | {route.requests / total:.1%} | {route.failures} | "
            f"{route.p50_ms:.0f} | {route.p99_ms:.0f} | {route.p99_ms / (route.p50_ms or 1):.1f}x | "
            f"{route.p50_ms / fastest:.1f}x |"
        )
    return [*lines, ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from bench.__main__ import quiet
    from bench.stack import add_code_paths

    add_code_paths()
    log_path = tempfile.mkstemp(prefix="cluster-agents-load-", suffix=".log")[1]
    with quiet(log_path) as console:
        load = run(
            args.seconds,
            args.requests,
            args.users,
            args.workers,
            progress=lambda message: console.write(message + "\n"),
        )
    print("\n".join(section(load)))
    return 0 if load.routes and load.failures == 0 and load.invariants_ok else 1


if __name__ == "__main__":
    sys.exit(main())
