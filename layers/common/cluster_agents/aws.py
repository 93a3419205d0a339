"""boto3 clients, built on first use and kept for the life of the container."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from cluster_agents.errors import StoreBusy


@functools.cache
def client(service: str) -> Any:
    import boto3  # deferred: importing boto3 is most of a cold start
    from botocore.config import Config

    # Standard retry mode retries throttling and transient errors with backoff before we see them;
    # a short connect timeout keeps a Lambda from hanging on a bad network path.
    config = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return boto3.session.Session().client(service, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto backends)."""
    client.cache_clear()


THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TooManyRequestsException",
    }
)
TRANSIENT_CODES = frozenset(
    {
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "KMSInternalException",
        "DependencyTimeoutException",
        "KeyUnavailableException",
        "InternalServiceError",
    }
)


@contextlib.contextmanager
def busy_on_transient_errors() -> Iterator[None]:
    """Throttling, transient service errors and timeouts (after the SDK's own retries) become
    StoreBusy: nothing was written, and the caller gets a retryable 429/503."""
    from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in THROTTLING_CODES:
            raise StoreBusy(throttled=True) from error
        if code in TRANSIENT_CODES:
            raise StoreBusy() from error
        raise
    except (ConnectionError, ReadTimeoutError) as error:
        raise StoreBusy() from error
