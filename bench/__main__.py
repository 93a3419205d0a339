"""``make bench``: measure round trips, latency against the floor, cold start, scaling and memory,
and write BENCHMARKS.md.

    .venv/bin/python -m bench                 # the full run (about 5-8 minutes on 2 cores)
    .venv/bin/python -m bench --quick         # small sizes and few requests, to try changes
    .venv/bin/python -m bench --output /tmp/B.md --skip scaling,coldstart

Progress goes to the terminal; the functions' own logs (and moto's) go to a log file whose path is
printed at the end."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PHASES = ("roundtrips", "latency", "worstcase", "memory", "coldstart", "scaling", "load")
PROFILED = (
    "GET /user",
    "GET /projects/{}/cluster_agents",
    "POST /projects/{}/cluster_agents",
    "GET /job/allowed_agents",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="where to write (default BENCHMARKS.md)")
    parser.add_argument("--quick", action="store_true", help="small sizes, few requests (not for publishing)")
    parser.add_argument("--repeats", type=int, default=5, help="warm requests counted per route (5)")
    parser.add_argument("--profile-requests", type=int, default=30, help="profiled requests per profiled route (30)")
    parser.add_argument("--latency-requests", type=int, default=20, help="timed requests per route (20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per route first (3)")
    parser.add_argument("--memory-requests", type=int, default=1000, help="requests in the memory run (1000)")
    parser.add_argument("--import-repeats", type=int, default=7, help="fresh interpreters per module (7)")
    parser.add_argument("--agents", type=int, default=10_000, help="agents in the large scaling case (10000)")
    parser.add_argument("--revoked", type=int, default=1_000, help="revoked tokens in the large case (1000)")
    parser.add_argument("--pats", type=int, default=100_000, help="PATs in the large case (100000)")
    parser.add_argument("--load-seconds", type=int, default=30, help="length of the load run (30; make load: 60)")
    parser.add_argument("--load-requests", type=int, default=20_000, help="requests at most in the load run (20000)")
    parser.add_argument("--load-users", type=int, default=8, help="concurrent locust users (8)")
    parser.add_argument("--load-workers", type=int, default=2, help="local API workers under load (2)")
    parser.add_argument("--skip", default="", help=f"comma-separated phases to skip: {', '.join(PHASES)}")
    args = parser.parse_args(argv)
    if args.quick:
        args.latency_requests, args.warmup, args.memory_requests, args.import_repeats = 8, 1, 120, 2
        args.repeats, args.profile_requests = 3, 10
        args.agents, args.revoked, args.pats = 200, 50, 500
        args.load_seconds, args.load_requests = 10, 1000
    args.skip = {phase.strip() for phase in args.skip.split(",") if phase.strip()}
    unknown = args.skip - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s): {', '.join(sorted(unknown))}")
    return args


@contextlib.contextmanager
def quiet(log_path: str) -> Iterator[IO[str]]:
    """Send file descriptors 1 and 2 (the handlers' JSON logs, moto, worker processes) to a log
    file; yields a stream to the real terminal for progress."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved_out, saved_err = os.dup(1), os.dup(2)
    console = os.fdopen(os.dup(saved_err), "w", buffering=1)
    with open(log_path, "w", encoding="utf-8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield console
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved_out, 1)
            os.dup2(saved_err, 2)
            os.close(saved_out)
            os.close(saved_err)
            console.close()


def machine_facts() -> dict[str, str]:
    def first(path: str, prefix: str) -> str:
        with contextlib.suppress(OSError), open(path, encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        return "?"

    memory_kib = first("/proc/meminfo", "MemTotal").split()[0]
    versions = []
    for package in ("boto3", "botocore", "moto", "aws-lambda-powertools", "pydantic"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{package} {metadata.version(package)}")
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain")
    return {
        "CPU": f"{first('/proc/cpuinfo', 'model name')}, {os.cpu_count()} cores",
        "load average": _load(),
        "memory": f"{int(memory_kib) / 1024 / 1024:.1f} GiB" if memory_kib.isdigit() else "?",
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": f"{platform.python_version()} ({sys.executable.replace(str(ROOT) + '/', '')})",
        "packages": ", ".join(versions),
        "code": f"commit {commit}" + (" plus uncommitted changes" if dirty else ""),
    }


def _load() -> str:
    """1-minute load average: other work on the machine while the bench ran."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except OSError:
        return ""


def run(args: argparse.Namespace, say) -> object:
    from bench import coldstart, scaling
    from bench.clients import Http
    from bench.latency import Floor, OpCosts, measure_latency, memory_run
    from bench.report import Run
    from bench.roundtrips import count_all, profile_route
    from bench.scenarios import World, function_of, plan, template_routes
    from bench.stack import KAS_SECRET, ROOT_TOKEN, Container, MotoServer, add_code_paths
    from devtools import template as cfn
    from devtools.local_api import LocalApi
    from testkit.client import InProcess

    started = time.monotonic()
    add_code_paths()
    template = cfn.load_template()
    routes = template_routes(template)
    functions = function_of(template)
    the_plan = plan(routes)
    command = "make bench" + (f" (python -m bench {' '.join(sys.argv[1:])})" if sys.argv[1:] else "")
    report = Run(
        command=command,
        started=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        seconds=0,
        machine=machine_facts(),
        plan=the_plan,
        options={
            "repeats": args.repeats,
            "latency_requests": args.latency_requests,
            "warmup": args.warmup,
            "import_repeats": args.import_repeats,
            "sizes": scaling.Sizes(args.agents, args.revoked, args.pats),
        },
    )
    report.skipped_phases = sorted(args.skip)
    say(f"{len(the_plan.runnable)} routes to measure")
    run_id = secrets.token_hex(3)
    functions_list = cfn.functions(template)
    overrides = {"ROOT_TOKEN": ROOT_TOKEN, "KAS_SECRET": KAS_SECRET}

    def fresh_world(endpoint: str) -> tuple[Container, InProcess, World]:
        """The functions in process against ``endpoint``, and a world to drive them with."""
        container = Container().use(endpoint)
        client = InProcess(functions_list)
        return container, client, World(client, run_id, container)

    with MotoServer() as store:
        container, client, world = fresh_world(store.endpoint)
        overrides["AWS_ENDPOINT_URL"] = store.endpoint
        measurable = the_plan.runnable
        if "roundtrips" not in args.skip:
            say("round trips per request (in process)")
            report.counts = count_all(the_plan.runnable, functions, world, client, args.repeats, progress=say)
            measurable = [count.scenario for count in report.counts if not count.error]
            for item in [s for s in measurable if s.name in PROFILED]:
                with contextlib.suppress(Exception):
                    report.profiles[item.name] = profile_route(item, world, client, args.profile_requests)
        if "latency" not in args.skip:
            say("latency through the local API")
            with LocalApi(port=0, workers=1, seed=True, env_overrides=overrides) as api:
                http = Http("127.0.0.1", api.port)
                report.floor = Floor(container.ddb(), container.directory_table)
                report.costs = OpCosts(container.ddb(), [container.directory_table, container.agents_table])
                report.latencies = measure_latency(
                    http,
                    world,
                    measurable,
                    report.floor,
                    args.latency_requests,
                    args.warmup,
                    costs=report.costs,
                    progress=say,
                )
                report.table_items = report.costs.table_items()
                http.close()
        if "worstcase" not in args.skip:
            from bench import ci_access_cost, worstcase

            say("worst-case CPU per write route (in process)")
            report.routes = routes
            report.worst_costs = worstcase.measure(world, client, routes, the_plan.runnable, args.repeats, progress=say)
            counts = (1, 10, 30) if args.quick else (1, 100, 1000)
            report.allowed_agents_costs = ci_access_cost.measure(world, client, counts, progress=say)
        report.seeded_notes += sorted(world.notes.seeded)
        if "roundtrips" not in args.skip:
            from bench.scale_report import hot_items, route_costs

            report.hot_sizes = hot_items(
                container.ddb(), {"agents": container.agents_table, "directory": container.directory_table}
            )
            report.route_costs = route_costs(report.counts, template)

    if "load" not in args.skip:
        from bench import load

        say(f"load run: locust, {args.load_seconds} s at most, {args.load_requests:,} requests at most")
        report.load = load.run(
            seconds=args.load_seconds,
            max_requests=args.load_requests,
            users=args.load_users,
            workers=args.load_workers,
            progress=say,
        )

    if "memory" not in args.skip:
        say("memory of a worker over a mixed load (fresh moto server and local API)")
        with MotoServer() as store:
            container, client, world = fresh_world(store.endpoint)
            overrides["AWS_ENDPOINT_URL"] = store.endpoint
            with LocalApi(port=0, workers=1, seed=True, env_overrides=overrides) as api:
                http = Http("127.0.0.1", api.port)
                checkpoints = tuple(n for n in (10, 100, 1000) if n <= args.memory_requests)
                checkpoints += () if args.memory_requests in checkpoints else (args.memory_requests,)
                report.memory = memory_run(
                    http, api.worker_pids, world, measurable, functions, args.memory_requests, checkpoints, progress=say
                )
                http.close()

    if "coldstart" not in args.skip:
        say("cold start (fresh interpreters)")
        report.imports = coldstart.measure(args.import_repeats, template, progress=say)

    if "scaling" not in args.skip:
        say("scaling (second moto server, bulk-seeded)")
        with MotoServer() as big:
            container, client, world = fresh_world(big.endpoint)
            report.scales = scaling.measure(world, client, report.options["sizes"], progress=say)
            report.seeded_notes += sorted(world.notes.seeded)
        report.seeded_notes.insert(
            0,
            (
                f"{args.agents - 10:,} agents (agent item and name-index copy each, `#STATS` `agent_count` raised to "
                f"match), {args.revoked - 1:,} revoked tokens (`RT#` items) and {args.pats - 10:,} personal access "
                "tokens "
                "(`PAT#` and `PATID#` items) were written with BatchWriteItem as raw copies of items the API had "
                "written, under ids reserved from the `COUNTER` items; the small cases were made through the API."
            ),
        )

    report.machine["load average"] = (
        f"{report.machine['load average']} at the start, {_load()} at the end "
        f"(1-minute; {os.cpu_count()} cores: above that, other work shared the machine)"
    )
    report.seconds = time.monotonic() - started
    return report


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log_path = tempfile.mkstemp(prefix="cluster-agents-bench-", suffix=".log")[1]
    t0 = time.monotonic()
    with quiet(log_path) as console:

        def say(message: str) -> None:
            console.write(f"[{time.monotonic() - t0:6.1f}s] {message}\n")

        from bench.report import render

        report = run(args, say)
        Path(args.output).write_text(render(report), encoding="utf-8")
        say(f"wrote {args.output}")
    print(f"bench: wrote {args.output} in {time.monotonic() - t0:.0f} s (functions' logs: {log_path})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
