"""Docker for `sam local` (devtools.sam_local): the engine (the running one, else a dockerd
started here), SAM's base image (AWS's, or devtools/lambda_image.sh's stand-in) and `sam build`
for this machine's architecture; plus the small helpers both modules use."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from devtools.template import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"
WORK_DIR = ROOT / ".aws-sam" / "sam-local"
BUILD_DIR = WORK_DIR / "build"
SAM_LABEL = "sam.cli.container.type=lambda"
ENGINE_START_TIMEOUT_S = 60


class Unavailable(Exception):
    """Docker cannot run here at all (not root and no engine): a skip for a developer, a failure in CI."""


class Failed(Exception):
    """A step failed; the message says which."""


def say(message: str) -> None:
    print(f"sam-local: {message}", file=sys.stderr, flush=True)


def run(*command: str | Path, timeout: float | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], timeout=timeout, check=False, **kwargs)


def docker_answers() -> bool:
    try:
        return (
            shutil.which("docker") is not None
            and run("docker", "info", capture_output=True, timeout=30).returncode == 0
        )
    except subprocess.TimeoutExpired:
        return False


def architecture() -> str:
    return "arm64" if platform.machine().lower() in ("aarch64", "arm64") else "x86_64"


# --------------------------------------------------------------------------- 1. the engine
def apt_install(*packages: str) -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise Unavailable(f"{', '.join(packages)} missing, and only root can apt-get install them")
    say(f"apt-get install {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (("apt-get", "update", "-qq"), ("apt-get", "install", "-y", "-qq", *packages)):
        if run(*command, env=env, stdout=subprocess.DEVNULL, timeout=900).returncode != 0:
            raise Failed(f"{' '.join(command)} failed")


@contextlib.contextmanager
def docker_engine() -> Iterator[None]:
    """The running engine, or a dockerd started (and stopped again) here."""
    if docker_answers():
        yield
        return
    if shutil.which("dockerd") is None:
        apt_install("docker.io")
    if os.geteuid() != 0:
        raise Unavailable("no Docker engine answers, and only root can start dockerd")
    log = open(WORK_DIR / "dockerd.log", "wb")  # noqa: SIM115 - closed below
    say("starting dockerd (log: .aws-sam/sam-local/dockerd.log)")
    dockerd = subprocess.Popen(["dockerd"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + ENGINE_START_TIMEOUT_S
        while not docker_answers():
            if dockerd.poll() is not None or time.monotonic() > deadline:
                raise Failed("dockerd did not start: see .aws-sam/sam-local/dockerd.log")
            time.sleep(0.5)
        yield
    finally:
        say("stopping the dockerd started here")
        dockerd.terminate()
        try:
            dockerd.wait(30)
        except subprocess.TimeoutExpired:
            dockerd.kill()
            dockerd.wait(5)
        log.close()


def bridge_address() -> str:
    """Where containers on Docker's default bridge reach this machine."""
    result = run("docker", "network", "inspect", "bridge", capture_output=True, text=True, timeout=30)
    with contextlib.suppress(ValueError, IndexError, KeyError, TypeError):
        for config in json.loads(result.stdout)[0]["IPAM"]["Config"]:
            if config.get("Gateway"):
                return config["Gateway"]
    result = run("ip", "-4", "-o", "addr", "show", "docker0", capture_output=True, text=True, timeout=10)
    fields = result.stdout.split()
    if "inet" in fields:
        return fields[fields.index("inet") + 1].split("/")[0]
    raise Failed("cannot find the address of Docker's bridge (docker0)")


@contextlib.contextmanager
def removing_new_containers() -> Iterator[None]:
    """SAM's Lambda containers that appear meanwhile are removed on the way out."""

    def sam_containers() -> set[str]:
        listed = run(
            "docker", "ps", "-aq", "--filter", f"label={SAM_LABEL}", capture_output=True, text=True, timeout=30
        )
        return set(listed.stdout.split())

    before = sam_containers()
    try:
        yield
    finally:
        left = sorted(sam_containers() - before)
        if left:
            run("docker", "rm", "-f", *left, capture_output=True, timeout=120)


# --------------------------------------------------------------------------- 2.-3. image and build
def prepare_image_and_build(arch: str) -> None:
    python = os.environ.get("SAM_PYTHON") or "python3.12"
    if run(ROOT / "devtools" / "lambda_image.sh", python, env={**os.environ, "ARCH": arch}).returncode != 0:
        raise Failed("no base image for the functions (devtools/lambda_image.sh)")
    say(f"sam build (Architecture={arch}) into {BUILD_DIR.relative_to(ROOT)}")
    path = f"{Path(python).parent}:{os.environ['PATH']}" if os.sep in python else os.environ["PATH"]
    built = run(
        SAM,
        "build",
        "--build-dir",
        BUILD_DIR,
        "--cached",
        "--cache-dir",
        WORK_DIR / "cache",
        "--parameter-overrides",
        f"Architecture={arch}",
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PATH": path, "SAM_CLI_TELEMETRY": "0"},
        timeout=900,
    )
    if built.returncode != 0:
        raise Failed("sam build failed")
