"""Logger and metrics, created once per container on first use (Powertools, JSON logs, EMF metrics).

Logs: one JSON object per line, with the API Gateway request id as ``correlation_id``, the caller
once authenticated (``user_id``, ``job_id`` or ``agent_id``, see ``identify``) and one ``request``
line per request (route template, status, duration). Never a secret: no event, no header, no
body, no query string is logged.

Metrics (CloudWatch, namespace POWERTOOLS_METRICS_NAMESPACE, dimension ``service``), as counters:
``AgentTokensCreated``, ``AgentTokensRevoked``, ``PersonalAccessTokensCreated``,
``PersonalAccessTokensRevoked``, ``AgentsCreated``, ``AgentsDeleted``, ``UrlConfigurationsCreated``,
``UrlConfigurationsDeleted``, ``AgentTokenUseRecorded``, ``PersonalAccessTokenUseRecorded``, and the
failures of ``FAILURE_METRICS``."""

from __future__ import annotations

import functools
from typing import Any

from cluster_agents import errors

#: Refusals an operator watches, by the domain error behind the answer (first match counts).
FAILURE_METRICS: tuple[tuple[type[errors.ServiceError] | tuple[type[errors.ServiceError], ...], str], ...] = (
    (errors.TokenLimitReached, "AgentTokenLimitRefused"),
    (errors.UrlConfigurationExists, "UrlConfigurationLimitRefused"),
    ((errors.Unauthenticated, errors.TokenExpired, errors.TokenRevoked), "AuthenticationFailed"),
    (errors.KasAuthenticationInvalid, "KasAuthenticationFailed"),
    (errors.InsufficientScope, "InsufficientScopeRefused"),
    (errors.StoreBusy, "StoreBusy"),
)
UNEXPECTED_ERROR_METRIC = "UnexpectedErrors"


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


def count_failure(error: errors.ServiceError) -> None:
    """Count an expected failure that operators watch (see FAILURE_METRICS)."""
    for types, name in FAILURE_METRICS:
        if isinstance(error, types):
            count(name)
            return


def identify(**caller: int | str) -> None:
    """Add who is calling (``user_id=``, ``job_id=``, ``agent_id=``...) to every later log line of
    this request: ids only, never a credential. The entry point clears them per invocation."""
    logger().append_keys(**caller)
