"""The functions under `sam local`, in Docker, against a local AWS (moto) made from template.yaml.

    .venv/bin/python -m devtools.sam_local serve --port 3000   # make sam-local: start-api until Ctrl-C
    .venv/bin/python -m devtools.sam_local test                # make test-sam-local

Both do, in order, and undo on the way out (Ctrl-C or a failure too), what they had to start
(steps 1-3 are devtools.sam_docker's):

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
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator

from devtools import sam_events
from devtools.sam_docker import (
    BUILD_DIR,
    SAM,
    WORK_DIR,
    Failed,
    Unavailable,
    architecture,
    bridge_address,
    docker_engine,
    prepare_image_and_build,
    removing_new_containers,
    run,
    say,
)
from devtools.sample_events import SAMPLE_TOKEN
from devtools.template import ROOT

BUILT_TEMPLATE = BUILD_DIR / "template.yaml"
REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
INVOKE_TIMEOUT_S = 180
START_API_TIMEOUT_S = 180
# `sam local` starts a function's clock before its container and imports (Lambda gives the init
# phase a budget of its own): a cold start on a busy machine takes more than the deployed 10 s.
LOCAL_TIMEOUT_S = 60


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
