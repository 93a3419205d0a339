"""Logger and metrics, created once per container on first use (Powertools, JSON logs, EMF metrics)."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def logger() -> Any:
    from aws_lambda_powertools import Logger

    return Logger()


@functools.cache
def metrics() -> Any:
    import warnings

    from aws_lambda_powertools import Metrics

    # Most requests count nothing; Powertools would warn about that on every one of them.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    return Metrics()


def count(name: str, value: int = 1) -> None:
    """Add to a CloudWatch (EMF) counter, flushed when the invocation ends."""
    from aws_lambda_powertools.metrics import MetricUnit

    metrics().add_metric(name=name, unit=MetricUnit.Count, value=value)
