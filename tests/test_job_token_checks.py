"""Every function that finds a job by its token also checks that the job is running (SPEC §6.1):
a finished job's token must authenticate nothing, so no lookup may skip that check."""

from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parent.parent / "layers/common/cluster_agents"


def _functions_finding_jobs() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for module in sorted(LAYER.rglob("*.py")):
        if module.parts[-2] == "store":
            continue  # the repository itself, which only reads
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                isinstance(call, ast.Attribute) and call.attr == "get_job_by_digest" for call in ast.walk(node)
            ):
                found.append((f"{module.relative_to(LAYER)}:{node.name}", node))
    return found


def _checks_running(function: ast.FunctionDef, helpers: set[str]) -> bool:
    for node in ast.walk(function):
        if isinstance(node, ast.Attribute) and node.attr == "running":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in helpers:
            return True
    return False


def test_every_job_token_lookup_checks_the_job_is_running():
    functions = _functions_finding_jobs()
    assert functions, "no job token lookup found: the test looks in the wrong place"
    helpers = {"_running"}  # web/job_auth.py's check
    unchecked = [name for name, function in functions if not _checks_running(function, helpers)]
    assert unchecked == []
