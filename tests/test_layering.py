"""The layer's modules import only downwards: web -> services -> store -> domain, all of them over
the foundation (errors, settings, clock, AWS clients, cryptography, the agent server's JWT,
observability); the seeding of ``root`` and the operators' tools sit above them all. A module may
skip a layer (web reads a token through a repository) but never import one above its own."""

from __future__ import annotations

import ast
from pathlib import Path

LAYER = Path(__file__).resolve().parent.parent / "layers/common/cluster_agents"
PACKAGE = "cluster_agents"
RANKS = {"domain": 1, "store": 2, "services": 3, "web": 4, "ops": 5, "bootstrap": 5}
FOUNDATION = 0  # every other top-level module


def _rank(module: str) -> int:
    """The rank of ``cluster_agents.x.y``: its package's (or top-level module's) place above."""
    parts = module.split(".")
    return RANKS.get(parts[1], FOUNDATION) if len(parts) > 1 else FOUNDATION


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from cluster_agents import crypto`` imports the module cluster_agents.crypto
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == PACKAGE}


def _modules() -> list[tuple[str, Path]]:
    return [
        (".".join((PACKAGE, *path.relative_to(LAYER).with_suffix("").parts)), path)
        for path in sorted(LAYER.rglob("*.py"))
        if path.name != "__init__.py"
    ]


def test_the_layer_has_the_layers_it_is_checked_for():
    packages = {path.relative_to(LAYER).parts[0] for _, path in _modules()}
    assert {"domain", "store", "services", "web"} <= packages


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for module, path in _modules():
        for name in sorted(_imported(ast.parse(path.read_text()))):
            if _rank(name) > _rank(module):
                upward.append(f"{module} imports {name}")
    assert upward == []


def test_no_module_of_the_layer_is_named_after_a_standard_library_module():
    import sys

    shadowing = [module for module, path in _modules() if path.stem in sys.stdlib_module_names]
    assert shadowing == []
