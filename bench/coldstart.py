"""Cold start: importing each function's handler module in a fresh interpreter, against a bare
``import boto3`` in the same run.

Each measurement is its own ``python`` process with the function's code dir and the layers on
sys.path (as a Lambda container has them) and the environment as deployed (tracing on:
``POWERTOOLS_TRACE_DISABLED`` unset). Only the import is timed, not the interpreter start-up.
Rounds interleave boto3 and every handler so that drift hits all of them alike; one untimed
round first writes the bytecode caches. Each import is timed twice: wall clock and the process's
CPU time. The verdict uses CPU time, each round's handler ÷ that round's ``import boto3``, median
over the rounds: on a shared machine, wall time also counts the time other processes held the
cores, and a busy spell lasting one round moves that round's pair alike. ``-X importtime`` then
tells where each import's time goes, by top-level package."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field

from devtools import template as cfn

_TIMER = """
import sys, time, importlib
sys.path[:0] = {paths!r}
started, cpu = time.perf_counter(), time.process_time()
importlib.import_module({module!r})
print(time.perf_counter() - started, time.process_time() - cpu)
"""
BOTO3 = "boto3"


@dataclass
class ImportTimes:
    module: str  # boto3 or the handler module
    function: str  # logical id ("" for boto3)
    samples: list[float] = field(default_factory=list)  # wall clock, s, one per round
    cpu_samples: list[float] = field(default_factory=list)  # CPU time of the process, s, one per round
    rounds: list[int] = field(default_factory=list)  # the round of each sample
    by_package: dict[str, float] = field(default_factory=dict)  # self time (s) per top-level package
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_samples)

    def ratio_to(self, baseline: ImportTimes) -> float:
        """CPU time ÷ the baseline's, round by round (rounds both measured), median."""
        theirs = dict(zip(baseline.rounds, baseline.cpu_samples, strict=True))
        ratios = [cpu / theirs[r] for r, cpu in zip(self.rounds, self.cpu_samples, strict=True) if theirs.get(r)]
        return statistics.median(ratios) if ratios else self.cpu_median / baseline.cpu_median


def _environment(template: dict | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "POWERTOOLS_TRACE_DISABLED"}
    template = template or cfn.load_template()
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    env.update({key: str(value) for key, value in variables.items() if isinstance(value, str | int)})
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _paths(function: cfn.Function | None, template: dict | None) -> list[str]:
    if function is None:
        return []
    return [str(function.code_dir)] + [str(path) for path in cfn.layer_dirs(template)]


def _run(module: str, paths: list[str], env: dict[str, str], importtime: bool = False) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        *(["-X", "importtime"] if importtime else []),
        "-c",
        _TIMER.format(paths=paths, module=module),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd="/", check=False)


def _import_lines(stderr: str) -> list[tuple[str, int]]:
    """(module, self time in us) of every ``-X importtime`` line."""
    lines = []
    for line in stderr.splitlines():
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3:
            continue
        self_field = parts[0].removeprefix("import time:").strip()
        if self_field.isdigit():
            lines.append((parts[2].strip(), int(self_field)))
    return lines


def _by_package(stderr: str, baseline: set[str]) -> dict[str, float]:
    """Self time per top-level package of everything imported beyond the timer's own imports."""
    totals: dict[str, float] = defaultdict(float)
    for name, self_us in _import_lines(stderr):
        if name not in baseline:
            totals[name.split(".")[0]] += self_us / 1e6
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def measure(repeats: int = 7, template: dict | None = None, progress=None) -> list[ImportTimes]:
    env = _environment(template)
    targets: list[tuple[ImportTimes, list[str]]] = [(ImportTimes(BOTO3, ""), [])]
    for function in cfn.functions(template):
        targets.append((ImportTimes(function.module, function.logical_id), _paths(function, template)))
    for result, paths in targets:  # untimed: bytecode caches, page cache
        done = _run(result.module, paths, env)
        if done.returncode != 0:
            result.error = (done.stderr.strip().splitlines() or ["failed"])[-1][:300]
    for round_number in range(repeats):
        for result, paths in targets:
            if result.error:
                continue
            done = _run(result.module, paths, env)
            if done.returncode != 0:
                result.error = (done.stderr.strip().splitlines() or ["failed"])[-1][:300]
                continue
            wall, cpu = (float(value) for value in done.stdout.strip().splitlines()[-1].split())
            result.samples.append(wall)
            result.cpu_samples.append(cpu)
            result.rounds.append(round_number)
        if progress:
            progress(f"  cold start round {round_number + 1}/{repeats}")
    baseline = {name for name, _ in _import_lines(_run("sys", [], env, importtime=True).stderr)}
    for result, paths in targets:
        if not result.error:
            result.by_package = _by_package(_run(result.module, paths, env, importtime=True).stderr, baseline)
    return [result for result, _ in targets]
