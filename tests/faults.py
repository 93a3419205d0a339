"""Inject AWS failures at the HTTP layer (botocore's before-send), so the SDK's own retry logic
runs as it would against a throttled or failing service."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from botocore.awsrequest import AWSResponse


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object) -> Iterator[bytes]:
        yield self._body


def _takes(fault: Fault | Timeout, request) -> bool:
    """Whether ``fault`` fails this request: its operation, and not yet failed ``times`` times."""
    target = request.headers.get("X-Amz-Target", b"")
    target = target.decode() if isinstance(target, bytes) else target
    if fault.operation != "*" and not target.endswith("." + fault.operation):
        return False
    if fault.passed < getattr(fault, "after", 0):  # let the first ``after`` requests through
        fault.passed += 1
        return False
    if fault.seen >= fault.times:
        return False
    fault.seen += 1
    return True


@dataclass
class Fault:
    operation: str  # e.g. "TransactWriteItems", "GenerateMac", "*"
    code: str  # e.g. "ProvisionedThroughputExceededException"
    times: int  # how many attempts fail (then the real service answers)
    status: int = 400
    message: str = "injected"
    seen: int = 0
    extra: dict = field(default_factory=dict)
    after: int = 0  # requests of ``operation`` that go through before the first failure
    passed: int = 0

    def __call__(self, request, **_: object):
        if not _takes(self, request):
            return None
        # moto answers every before-send too (all handlers run); point the request elsewhere so the
        # faulted attempt never reaches its backend, as it would not reach DynamoDB.
        request.url = "https://fault-injected.invalid/"
        body = json.dumps(
            {"__type": f"com.amazonaws.dynamodb.v20120810#{self.code}", "message": self.message, **self.extra}
        ).encode()
        return AWSResponse(request.url, self.status, {"x-amzn-RequestId": "fault"}, _Raw(body))


@dataclass
class Timeout:
    """The service does not answer in time: botocore's ReadTimeoutError on ``times`` attempts of
    ``operation`` (retried by the SDK like a real timeout; nothing reaches the backend)."""

    operation: str
    times: int
    seen: int = 0
    after: int = 0
    passed: int = 0

    def __call__(self, request, **_: object):
        from botocore.exceptions import ReadTimeoutError

        if not _takes(self, request):
            return None
        raise ReadTimeoutError(endpoint_url=request.url)


@contextlib.contextmanager
def inject(service: str, fault: Fault | Timeout) -> Iterator[Fault | Timeout]:
    """Make the layer's ``service`` client fail ``fault.times`` attempts of ``fault.operation``."""
    from cluster_agents.aws import client

    events = client(service).meta.events
    events.register_first(f"before-send.{service}", fault)
    try:
        yield fault
    finally:
        events.unregister(f"before-send.{service}", fault)
