"""The functions under `sam local`, in Docker, against a local AWS (moto) made from template.yaml.

    .venv/bin/python -m devtools.sam_local serve --port 3000   # make sam-local: start-api until Ctrl-C
    .venv/bin/python -m devtools.sam_local test                # make test-sam-local

Both do, in order, and undo on the way out (Ctrl-C or a failure too), what they had to start:

1. a Docker engine: the running one, else `dockerd` started here (docker.io installed with apt-get
   when it is missing and we are root);
2. SAM's base image: AWS's, or the stand-in of devtools/lambda_image.sh where no registry answers;
3. `sam build` for this machine's architecture (parameter Architecture) into .aws-sam/sam-local/;
4. the store: a moto server on the Docker bridge's address (the containers reach it there) with
   the template's tables and keys, and root seeded with devtools.sample_events.SAMPLE_TOKEN;
5. then `serve`: a project root/sample (id 1), and `sam local start-api` in the foreground; or
   `test`: every event of events/ORDER through `sam local invoke` (devtools.sam_events), then
   tests/test_sam_local_e2e.py (python-gitlab) against `sam local start-api`.

The functions get LocalEndpointUrl (template parameter: AWS_ENDPOINT_URL) and
devtools/sam_local_env.json (--env-vars: key aliases, the local KAS secret)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from devtools import sam_events
from devtools.sample_events import SAMPLE_TOKEN
from devtools.template import ROOT

SAM = ROOT / ".venv-sam" / "bin" / "sam"
WORK_DIR = ROOT / ".aws-sam" / "sam-local"
BUILD_DIR = WORK_DIR / "build"
BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
SAM_LABEL = "sam.cli.container.type=lambda"
ENGINE_START_TIMEOUT_S = 60
INVOKE_TIMEOUT_S = 180
START_API_TIMEOUT_S = 180
# `sam local` starts a function's clock before its container and imports (Lambda gives the init
# phase a budget of its own): a cold start on a busy machine takes more than the deployed 10 s.
LOCAL_TIMEOUT_S = 60


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


# --------------------------------------------------------------------------- 4. the store
@contextlib.contextmanager
def local_store(host: str, port: int, sample_project: bool) -> Iterator[str]:
    """A moto server on host:port with the template's tables and keys, root seeded; its URL."""
    import boto3

    from devtools import template
    from devtools.local_api.storage import EndpointSession, make_moto_server

    server = make_moto_server(host, port)
    serve_thread = threading.Thread(target=server.serve_forever, args=(0.2,), name="moto", daemon=True)
    serve_thread.start()
    endpoint = f"http://{host}:{server.server_port}"
    try:
        session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
        template.create_resources(EndpointSession(session, endpoint))
        seed(endpoint, sample_project)
        yield endpoint
    finally:
        server.shutdown()
        server.server_close()
        serve_thread.join(5)


def seed(endpoint: str, sample_project: bool) -> None:
    """Root and its token (and the project root/sample), as the functions would write them."""
    environment = json.loads(sam_events.LOCAL_ENV_FILE.read_text())["Parameters"]
    os.environ.update(
        environment,
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        POWERTOOLS_TRACE_DISABLED="true",
        **CREDENTIALS,
    )
    sys.path[:0] = [str(ROOT / "layers" / "common"), str(ROOT / "functions" / "world")]
    from cluster_agents.bootstrap import seed_root

    seed_root(SAMPLE_TOKEN)
    if sample_project:
        from world_app import lambda_handler

        from devtools.apigw import LambdaContext, rest_event

        event = rest_event(
            "POST",
            "/api/v4/projects",
            "/api/v4/projects",
            {},
            [("PRIVATE-TOKEN", SAMPLE_TOKEN), ("Content-Type", "application/json")],
            "",
            json.dumps({"name": "sample"}),
        )
        result = lambda_handler(event, LambdaContext("WorldFunction"))
        if result["statusCode"] not in (201, 400):  # 400: it exists already
            raise Failed(f"cannot create root/sample: {result}")


# --------------------------------------------------------------------------- 5. sam local
def sam_local_arguments(arch: str, endpoint: str) -> list[str]:
    return [
        "--template",
        str(BUILT_TEMPLATE),
        "--skip-pull-image",
        "--parameter-overrides",
        f"Architecture={arch} LocalEndpointUrl={endpoint} FunctionTimeout={LOCAL_TIMEOUT_S}",
        "--env-vars",
        str(sam_events.LOCAL_ENV_FILE),
    ]


def sam_environment(endpoint: str) -> dict[str, str]:
    """SAM's own: it asks STS for the account id before every invoke (about 10 s of timeouts where AWS
    is out of reach): the store answers instead."""
    return {
        **os.environ,
        **CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "SAM_CLI_TELEMETRY": "0",
        "AWS_ENDPOINT_URL_STS": endpoint,
    }


def invoke_events(arch: str, endpoint: str) -> list[str]:
    """Every event of events/ORDER through `sam local invoke`; the failures."""

    def invoke(logical_id: str, event: dict, sample: sam_events.SampleEvent) -> dict:
        with tempfile.NamedTemporaryFile("w", suffix=".json", dir=WORK_DIR, delete=False) as handle:
            json.dump(event, handle)
        try:
            done = run(
                SAM,
                "local",
                "invoke",
                logical_id,
                "--event",
                handle.name,
                *sam_local_arguments(arch, endpoint),
                capture_output=True,
                text=True,
                env=sam_environment(endpoint),
                timeout=INVOKE_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"sam local invoke took more than {INVOKE_TIMEOUT_S} s"}
        finally:
            os.unlink(handle.name)
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        try:
            return json.loads(lines[-1])
        except (IndexError, ValueError):
            return {"error": f"exit {done.returncode}", "stdout": done.stdout[-1000:], "stderr": done.stderr[-2000:]}

    return sam_events.run_all(invoke, report=lambda line: say(line))


@contextlib.contextmanager
def start_api(arch: str, endpoint: str, port: int) -> Iterator[subprocess.Popen]:
    say(f"sam local start-api on http://127.0.0.1:{port}")
    api = subprocess.Popen(
        [
            str(SAM),
            "local",
            "start-api",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--warm-containers",
            "LAZY",
            *sam_local_arguments(arch, endpoint),
        ],
        env=sam_environment(endpoint),
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_API_TIMEOUT_S
        while not answers(f"http://127.0.0.1:{port}/api/v4/version", {"PRIVATE-TOKEN": SAMPLE_TOKEN}):
            if api.poll() is not None or time.monotonic() > deadline:
                raise Failed("sam local start-api did not start answering")
            time.sleep(1)
        yield api
    finally:
        if api.poll() is None:
            api.send_signal(signal.SIGINT)  # SAM stops its warm containers on Ctrl-C
            try:
                api.wait(60)
            except subprocess.TimeoutExpired:
                api.kill()
                api.wait(5)


def answers(url: str, headers: dict[str, str] | None = None) -> bool:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as response:
            return response.status == 200
    except OSError:
        return False


def e2e(port: int) -> bool:
    env = {
        **os.environ,
        "SAM_LOCAL_URL": f"http://127.0.0.1:{port}",
        "SAM_LOCAL_ROOT_TOKEN": SAMPLE_TOKEN,
        "SAM_LOCAL_KAS_SECRET": sam_events.local_kas_secret(),
    }
    return (
        run(
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/test_sam_local_e2e.py",
            cwd=ROOT,
            env=env,
            timeout=1200,
        ).returncode
        == 0
    )


# --------------------------------------------------------------------------- commands
def serve(port: int, store_port: int) -> None:
    arch = architecture()
    with docker_engine(), removing_new_containers():
        prepare_image_and_build(arch)
        with (
            local_store(bridge_address(), store_port, sample_project=True) as endpoint,
            start_api(arch, endpoint, port) as api,
        ):
            say(f"ready: the store is {endpoint} (moto, in memory); root's token is {SAMPLE_TOKEN}")
            say(
                f"try: curl -H 'PRIVATE-TOKEN: {SAMPLE_TOKEN}' http://127.0.0.1:{port}/api/v4/projects/1/cluster_agents"
            )
            say("Ctrl-C stops everything started here")
            api.wait()


def test(port: int) -> None:
    arch = architecture()
    started = time.monotonic()
    with docker_engine(), removing_new_containers():
        prepare_image_and_build(arch)
        say(f"ready to invoke after {time.monotonic() - started:.0f} s")
        with local_store(bridge_address(), 0, sample_project=False) as endpoint:
            failures = invoke_events(arch, endpoint)
            say(f"events done after {time.monotonic() - started:.0f} s")
            if failures:
                raise Failed("events that did not answer their status:\n  " + "\n  ".join(failures))
            with start_api(arch, endpoint, port):
                if not e2e(port):
                    raise Failed("the end-to-end tests through sam local start-api failed")
    say(f"passed in {time.monotonic() - started:.0f} s")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sam_local", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="sam local start-api on a seeded store, until Ctrl-C")
    serve_parser.add_argument("--port", type=int, default=3000)
    serve_parser.add_argument("--store-port", type=int, default=0, help="the moto server's port (default: any free)")
    test_parser = sub.add_parser("test", help="every sample event through sam local invoke, then e2e via start-api")
    test_parser.add_argument("--port", type=int, default=3071)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if not SAM.exists():
        say(f"{SAM.relative_to(ROOT)} is missing: run it through make (make sam-local / make test-sam-local)")
        return 2
    try:
        if args.command == "serve":
            serve(args.port, args.store_port)
        else:
            test(args.port)
    except Unavailable as reason:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            say(f"FAILED: Docker cannot run here: {reason}")
            return 1
        say(f"skipped: Docker cannot run here ({reason})")
        return 0
    except Failed as error:
        say(f"FAILED: {error}")
        return 1
    except subprocess.TimeoutExpired as error:
        say(f"FAILED: {' '.join(map(str, error.cmd))} took more than {error.timeout:.0f} s")
        return 1
    except KeyboardInterrupt:
        say("stopped")
        return 130 if args.command == "test" else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
