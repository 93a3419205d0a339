"""Every sample event in events/ is a REST (v1) event for a route of template.yaml, and the
function behind that route answers it without a server error; run in the order of events/ORDER on
a store holding only root, every event answers the status it promises (as `make test-sam-local`
checks through `sam local invoke`)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from devtools.apigw import LambdaContext, match_route
from devtools.sam_events import (
    PLACEHOLDER,
    EventRun,
    event_files,
    function_of,
    ordered_events,
    promised_status,
    run_all,
)
from devtools.sample_events import SAMPLE_TOKEN
from devtools.template import ROOT, functions
from tests.conftest import KAS_SECRET

EVENTS = event_files()


def test_there_are_sample_events():
    assert len(EVENTS) >= 20


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: str(p.relative_to(ROOT / "events")))
def test_sample_event_is_answered(aws, path: Path):
    from cluster_agents.bootstrap import seed_root

    from testkit.client import ApiClient

    seed_root(SAMPLE_TOKEN)
    ApiClient(SAMPLE_TOKEN).post("/projects", json_body={"name": "sample"})
    # Values of earlier events (ids, tokens) are stand-ins here: the event alone, on a fresh world.
    values = {f"{name}.{field}": "1" for name, field in PLACEHOLDER.findall(path.read_text()) if field}
    event = EventRun(kas_secret=KAS_SECRET, values=values).render(path)
    assert {
        "resource",
        "path",
        "httpMethod",
        "headers",
        "multiValueHeaders",
        "pathParameters",
        "requestContext",
        "body",
        "isBase64Encoded",
    } <= set(event)
    matched = match_route(event["httpMethod"], event["path"])
    assert matched is not None, f"{path.name}: no route for {event['httpMethod']} {event['path']}"
    function, resource, _ = matched
    assert resource == event["resource"]
    assert function.logical_id == function_of(event)
    handler = getattr(importlib.import_module(function.module), function.handler)
    result = handler(event, LambdaContext(function.logical_id))
    assert result["statusCode"] < 500, result
    if result.get("body"):
        json.loads(result["body"])


def test_order_lists_every_event_once():
    assert sorted(sample.path for sample in ordered_events()) == event_files()


def test_order_status_is_the_one_the_name_promises():
    for sample in ordered_events():
        assert promised_status(sample.name) in (None, sample.status), sample.relative


def test_events_keep_no_stale_credentials():
    """Credentials that expire or that an earlier event revokes come from placeholders."""
    for path in event_files():
        event = json.loads(path.read_text())
        headers = {name.lower(): value for name, value in event["headers"].items()}
        assert headers.get("gitlab-kas-api-request", "{{KAS_JWT}}") == "{{KAS_JWT}}", path.name
        assert headers.get("job-token", "{{CreateJob.token}}") == "{{CreateJob.token}}", path.name
        if "gitlab-agentk-api-request" in headers:
            assert headers["gitlab-agentk-api-request"] == "{{CreateAgentToken.token}}", path.name
            assert "authorization" not in headers, path.name


@pytest.mark.xdist_group("events_in_order")
def test_events_in_order_answer_their_statuses(aws):
    """The whole set, in order, on a store holding root and the sample token only."""
    from cluster_agents.bootstrap import seed_root

    seed_root(SAMPLE_TOKEN)
    by_id = {function.logical_id: function for function in functions()}

    answers = {}

    def invoke(logical_id: str, event: dict, sample) -> dict:
        function = by_id[logical_id]
        result = getattr(importlib.import_module(function.module), function.handler)(event, LambdaContext(logical_id))
        answers[sample.name] = json.loads(result["body"]) if result.get("body") else None
        return result

    assert run_all(invoke, EventRun(kas_secret=KAS_SECRET), report=lambda line: None) == []
    agent = answers["CreateAgent"]
    assert answers["GetAgentInfo"]["agent_id"] == agent["id"]
    assert [item["id"] for item in answers["GetAllowedAgents"]["allowed_agents"]] == [agent["id"]]
