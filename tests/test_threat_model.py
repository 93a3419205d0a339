"""docs/threat-model.md cannot drift from the suite: every test it names exists (as a test
function of that module, parametrised or not), every threat names at least one test, and every
test module it names is in tests/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "threat-model.md"
NODE_ID = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _threat_rows() -> list[list[str]]:
    rows = []
    for line in DOCUMENT.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| T") and re.fullmatch(r"T\d+", cells[0]):
            rows.append(cells)
    return rows


def _test_functions(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_every_threat_names_tests_and_each_exists():
    rows = _threat_rows()
    assert len(rows) >= 10, "the threat table was not found"
    missing = []
    for cells in rows:
        node_ids = NODE_ID.findall(cells[-1])
        assert node_ids, f"{cells[0]} names no test"
        for path, name in node_ids:
            module = ROOT / path
            if not module.is_file() or name not in _test_functions(module):
                missing.append(f"{cells[0]}: {path}::{name}")
    assert missing == []


def test_threat_ids_are_unique_and_in_order():
    ids = [int(cells[0][1:]) for cells in _threat_rows()]
    assert ids == list(range(1, len(ids) + 1))
