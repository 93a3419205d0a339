"""Swagger UI for the docs page, from npm's ``swagger-ui-dist`` at a pinned version and digest:
the files the page loads go into ``functions/docs/swagger_ui/`` (not committed; ``sam build``
packages them with the docs function, ``make serve`` and the tests read them from there).

    python -m devtools.swagger_ui            # fetch them unless that version is already there
    python -m devtools.swagger_ui --check    # exit 1 unless that version is there

`make install` runs it (so `make serve`, `make test` and `make build` have the files); it takes
the package's tarball with ``npm pack`` (no install, no package script runs), checks its SHA-512
against ``INTEGRITY`` and unpacks only ``FILES``. npm comes with apt-get when missing (as root)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "swagger-ui-dist"
VERSION = "5.36.0"
INTEGRITY = "sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A=="
#: What the page loads, and the package's licence and notice (served: only the first two).
FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE")
DESTINATION = ROOT / "functions" / "docs" / "swagger_ui"
VERSION_FILE = "VERSION"


class VendorError(Exception):
    """The package could not be fetched or is not the one pinned."""


def say(message: str) -> None:
    print(f"swagger-ui: {message}", file=sys.stderr, flush=True)


def present(destination: Path = DESTINATION) -> bool:
    version_file = destination / VERSION_FILE
    return (
        version_file.is_file()
        and version_file.read_text(encoding="utf-8").strip() == VERSION
        and all((destination / name).is_file() for name in FILES)
    )


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is not None:
        return npm
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise VendorError("npm is missing, and only root can apt-get install it")
    say("apt-get install npm")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", "npm")):
        if subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False, timeout=900).returncode != 0:
            raise VendorError(f"{' '.join(command)} failed")
    return shutil.which("npm") or "npm"


def _pack(work: Path) -> Path:
    """The package's tarball from the registry (``npm pack``: nothing installed, no script run)."""
    command = [_npm(), "pack", f"{PACKAGE}@{VERSION}", "--json", "--ignore-scripts", "--pack-destination", str(work)]
    result = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise VendorError(f"npm pack {PACKAGE}@{VERSION} failed: {result.stderr.strip()[-500:]}")
    return work / json.loads(result.stdout)[0]["filename"]


def _check_integrity(tarball: Path) -> None:
    digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    if digest != INTEGRITY:
        raise VendorError(f"{tarball.name}: SHA-512 {digest} is not the pinned {INTEGRITY}")


def vendor(destination: Path = DESTINATION) -> Path:
    """``FILES`` of the pinned package in ``destination`` (replaced whole, so a reader never sees
    half of it); nothing is fetched when that version is already there."""
    if present(destination):
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".swagger-ui-", dir=destination.parent) as work:
        tarball = _pack(Path(work))
        _check_integrity(tarball)
        staged = Path(work) / "staged"
        staged.mkdir()
        with tarfile.open(tarball, "r:gz") as archive:
            for name in FILES:
                member = archive.extractfile(f"package/{name}")
                if member is None:
                    raise VendorError(f"{tarball.name} has no {name}")
                (staged / name).write_bytes(member.read())
        (staged / VERSION_FILE).write_text(VERSION + "\n", encoding="utf-8")
        retired = Path(work) / "retired"
        if destination.exists():
            destination.rename(retired)
        try:
            staged.rename(destination)
        except OSError:  # another process put it there meanwhile
            if not present(destination):
                raise
    say(f"{PACKAGE} {VERSION} in {destination.relative_to(ROOT)}")
    return destination


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless the pinned version is there")
    args = parser.parse_args(argv)
    if args.check:
        if present():
            return 0
        say(f"{DESTINATION.relative_to(ROOT)} does not hold {PACKAGE} {VERSION}: run `make install`")
        return 1
    try:
        vendor()
    except (VendorError, subprocess.TimeoutExpired) as error:
        say(f"FAILED: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
