"""Batch reads when DynamoDB throttles: what it leaves unprocessed is asked for again, with back-off,
and a batch that stays throttled is a retryable 429, never a partial answer. moto never leaves keys
unprocessed, so botocore's Stubber plays DynamoDB here."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

KEY = {"pk": {"S": "USER#1"}, "sk": {"S": "USER"}}


def _unprocessed(table: str) -> dict[str, Any]:
    return {"Responses": {table: []}, "UnprocessedKeys": {table: {"Keys": [KEY], "ConsistentRead": True}}}


@pytest.fixture
def stubbed(aws, monkeypatch):
    from cluster_agents.store import dynamo

    pauses: list[int] = []
    monkeypatch.setattr(dynamo, "pause_before_unprocessed", pauses.append)
    with Stubber(dynamo.ddb()) as stubber:
        yield dynamo, stubber, pauses


def test_unprocessed_keys_are_asked_for_again_after_a_pause(stubbed):
    dynamo, stubber, pauses = stubbed
    stubber.add_response("batch_get_item", _unprocessed("T"))
    stubber.add_response("batch_get_item", {"Responses": {"T": [{**KEY, "id": {"N": "1"}}]}})
    found = dynamo.batch_get({"T": [("USER#1", "USER")]})
    assert found == {"T": {("USER#1", "USER"): {"pk": "USER#1", "sk": "USER", "id": 1}}}
    assert pauses == [0]
    stubber.assert_no_pending_responses()


def test_keys_left_unprocessed_every_time_are_a_retryable_429(stubbed):
    from cluster_agents.errors import StoreBusy

    dynamo, stubber, pauses = stubbed
    for _ in range(dynamo.UNPROCESSED_RETRIES + 1):
        stubber.add_response("batch_get_item", _unprocessed("T"))
    with pytest.raises(StoreBusy) as raised:
        dynamo.batch_get({"T": [("USER#1", "USER")]})
    assert raised.value.throttled
    assert pauses == list(range(dynamo.UNPROCESSED_RETRIES))
    stubber.assert_no_pending_responses()
