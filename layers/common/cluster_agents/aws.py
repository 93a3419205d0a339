"""boto3 clients, built on first use and kept for the life of the container."""

from __future__ import annotations

import functools
from typing import Any

from botocore.config import Config

# Standard retry mode retries throttling and transient errors with backoff before we see them;
# a short connect timeout keeps a Lambda from hanging on a bad network path.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)


@functools.cache
def client(service: str) -> Any:
    import boto3  # deferred: importing boto3 is most of a cold start

    return boto3.session.Session().client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    client.cache_clear()
