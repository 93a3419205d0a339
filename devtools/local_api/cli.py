"""The command line behind `make serve`: python -m devtools.local_api --port 3000 --workers 4."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from devtools.local_api.config import ConfigError
from devtools.local_api.stack import LocalApi

PROG = "devtools.local_api"
DESCRIPTION = "The local API server behind `make serve`: API Gateway (REST) + Lambda + DynamoDB/KMS, no Docker."


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}\n")


def _port(value: str) -> int:
    if not value.isdigit() or int(value) > 65535:
        raise argparse.ArgumentTypeError(f"must be a port number 0-65535, not {value!r}")
    return int(value)


def _workers(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {value!r}")
    return int(value)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _OneLineParser(prog=PROG, description=DESCRIPTION)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_port, default=3000, help="port to listen on (default 3000, 0: any)")
    parser.add_argument("--workers", type=_workers, default=4, help="worker processes (default 4)")
    parser.add_argument("--external-url", default=None, help="EXTERNAL_URL for the functions")
    parser.add_argument("--quiet", action="store_true", help="no access log")
    return parser.parse_args(argv)


def banner(api: LocalApi) -> str:
    lines = [
        f"Cluster Agents API (local): {api.base_url}",
        f"  storage: {api.storage}",
        f"  workers: {_count(api.workers, 'process', 'processes')} serving "
        f"{_count(len(api.functions), 'function')} on {_count(api.routes, 'route')}",
    ]
    if api.root_token_generated:
        lines.append(f"  root token (generated, shown once; set ROOT_TOKEN to choose it): {api.root_token}")
    elif api.root_token:
        lines.append("  root token: the one in ROOT_TOKEN")
    elif api.seeded:
        lines.append("  root administrator: already there (its token was shown when it was created)")
    if api.settings and api.settings.kas_secret_generated:
        lines.append(f"  KAS_SECRET (generated, shown once): {api.settings.kas_secret}")
    lines.append("Ctrl-C to stop.")
    return "\n".join(lines)


def _count(number: int, singular: str, plural: str | None = None) -> str:
    return f"{number} {singular if number == 1 else plural or singular + 's'}"


def _terminate(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    api = LocalApi(
        args.port,
        host=args.host,
        workers=args.workers,
        external_url=args.external_url,
        seed=True,
        store_in_process=True,
        access_log=not args.quiet,
    )
    signal.signal(signal.SIGTERM, _terminate)
    try:
        api.start()
        print(banner(api), flush=True)
        api.wait()
    except ConfigError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        api.stop()
    return 0
