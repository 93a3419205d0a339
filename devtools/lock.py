"""The lock file (uv.lock) and what is generated from it.

    .venv/bin/python -m devtools.lock           # make lock: re-resolve uv.lock, then write the layer's requirements
    .venv/bin/python -m devtools.lock --upgrade # the same, taking the newest versions pyproject.toml admits
    python3 devtools/lock.py uv-version         # the locked uv version (make install bootstraps uv with it)

uv.lock is universal: one resolution for every platform and Python 3.11 and later (pyproject.toml's
``[tool.uv]`` makes it fail when a package has no wheel for Lambda). ``make install`` syncs the
virtualenv to it; the layer's requirements (what ``sam build`` installs into the layer) are the
locked runtime dependencies without boto3 and what only boto3 needs, as the Lambda runtime brings
them. ``tests/test_requirements.py`` fails when either file drifts from the lock.

Only the standard library at import: ``uv-version`` runs before anything is installed."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "uv.lock"
LAYER_REQUIREMENTS = ROOT / "layers/common/requirements.txt"
#: Runtime dependencies the Lambda runtime provides: not in the layer (with what only they need).
PROVIDED_BY_THE_RUNTIME = ("boto3",)
LAYER_HEADER = (
    "# Generated from uv.lock by `make lock` (devtools/lock.py): do not edit. What `sam build` installs\n"
    "# into the layer: the locked runtime dependencies, without boto3 (the Lambda runtime brings it).\n"
)


def locked_versions() -> dict[str, set[str]]:
    """{normalised name: versions} of every package in uv.lock (more than one version where the
    resolution forks by Python version)."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(LOCK.read_text())["package"]:
        if "version" in package:  # the project itself has none
            versions.setdefault(package["name"], set()).add(package["version"])
    return versions


def uv() -> str:
    """The uv next to this Python (the virtualenv's, installed from the lock), else the one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else "uv"


def _uv(*args: str) -> str:
    environment = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"}
    done = subprocess.run([uv(), *args], cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"uv {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def layer_requirements() -> str:
    """The layer's requirements.txt as uv.lock says it (without network)."""
    pruned = [arg for name in PROVIDED_BY_THE_RUNTIME for arg in ("--prune", name)]
    exported = _uv(
        "export", "--frozen", "--offline", "--no-dev", "--no-emit-project", "--no-hashes", "--no-header", *pruned
    )
    return LAYER_HEADER + exported


def lock_is_current() -> bool:
    """Whether uv.lock is what pyproject.toml resolves to (without network)."""
    try:
        _uv("lock", "--check", "--offline")
    except RuntimeError:
        return False
    return True


def main(argv: list[str]) -> int:
    if argv == ["uv-version"]:
        (version,) = locked_versions()["uv"]
        print(version)
        return 0
    if argv not in ([], ["--upgrade"]):
        print(__doc__, file=sys.stderr)
        return 2
    _uv("lock", *argv)
    LAYER_REQUIREMENTS.write_text(layer_requirements())
    print(f"uv.lock: {len(locked_versions())} packages; {LAYER_REQUIREMENTS.relative_to(ROOT)} written from it")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
