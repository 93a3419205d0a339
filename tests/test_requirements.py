"""Runtime requirements: the layer installs what pyproject.toml declares, and no version with a
known vulnerability is admitted."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
# Versions a requirement must exclude: (package, version, why)
KNOWN_VULNERABLE = [
    ("PyJWT", "2.10.0", "CVE-2024-53861: the issuer check accepts a partial match"),
]


def _project_requirements() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {Requirement(line).name.lower(): Requirement(line) for line in project["dependencies"]}


def _layer_requirements() -> dict[str, Requirement]:
    lines = (ROOT / "layers/common/requirements.txt").read_text().splitlines()
    return {
        Requirement(line).name.lower(): Requirement(line)
        for line in (raw.split("#")[0].strip() for raw in lines)
        if line
    }


def test_the_layer_installs_what_pyproject_declares():
    project, layer = _project_requirements(), _layer_requirements()
    for name, requirement in layer.items():
        assert str(project[name].specifier) == str(requirement.specifier), name
    assert set(project) - set(layer) == {"boto3"}  # the Lambda runtime brings boto3


def test_no_known_vulnerable_version_is_admitted():
    for requirements in (_project_requirements(), _layer_requirements()):
        for package, bad, why in KNOWN_VULNERABLE:
            assert not requirements[package.lower()].specifier.contains(bad), (package, bad, why)


def test_the_installed_versions_satisfy_the_requirements():
    for name, requirement in _project_requirements().items():
        assert requirement.specifier.contains(version(name), prereleases=True), (name, version(name))
