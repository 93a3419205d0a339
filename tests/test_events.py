"""Every sample event in events/ is a REST (v1) event for a route of template.yaml, and the
function behind that route answers it without a server error."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from devtools.apigw import LambdaContext, match_route
from devtools.sample_events import SAMPLE_TOKEN
from devtools.template import ROOT

EVENTS = sorted((ROOT / "events").rglob("*.json"))


def test_there_are_sample_events():
    assert len(EVENTS) >= 20


@pytest.mark.parametrize("path", EVENTS, ids=lambda p: str(p.relative_to(ROOT / "events")))
def test_sample_event_is_answered(aws, path: Path):
    from cluster_agents.bootstrap import seed_root

    from tests.client import ApiClient

    seed_root(SAMPLE_TOKEN)
    ApiClient(SAMPLE_TOKEN).post("/projects", json_body={"name": "sample"})
    event = json.loads(path.read_text())
    assert {"resource", "path", "httpMethod", "headers", "multiValueHeaders", "pathParameters",
            "requestContext", "body", "isBase64Encoded"} <= set(event)
    matched = match_route(event["httpMethod"], event["path"])
    assert matched is not None, f"{path.name}: no route for {event['httpMethod']} {event['path']}"
    function, resource, _ = matched
    assert resource == event["resource"]
    handler = getattr(importlib.import_module(function.module), function.handler)
    result = handler(event, LambdaContext(function.logical_id))
    assert result["statusCode"] < 500, result
    if result.get("body"):
        json.loads(result["body"])
