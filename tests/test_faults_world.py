"""Throttling, conflicts and timeouts on the world's write paths: a retryable 429/503 with
Retry-After (or success after the SDK's retries), never a 500 or a half-written record."""

from __future__ import annotations

from tests.faults import Fault, inject


def test_throttled_transaction_is_a_retryable_429(api):
    with inject("dynamodb", Fault("TransactWriteItems", "ThrottlingException", times=10)) as fault:
        response = api.post("/projects", json_body={"name": "throttled"})
    assert fault.seen == 4  # the first attempt and the SDK's three retries (standard mode)
    assert response.status == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json() == {"message": "429 Too Many Requests"}
    assert api.get("/projects/root%2Fthrottled").status == 404  # nothing half-written


def test_a_passing_throttle_is_absorbed_by_sdk_retries(api):
    with inject("dynamodb", Fault("TransactWriteItems", "ProvisionedThroughputExceededException", times=1)):
        response = api.post("/projects", json_body={"name": "retried"})
    assert response.status == 201
    assert api.get("/projects/root%2Fretried").status == 200


def test_transaction_conflict_is_a_retryable_503(api):
    fault = Fault(
        "TransactWriteItems",
        "TransactionCanceledException",
        times=10,
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}, {"Code": "None"}]},
    )
    with inject("dynamodb", fault):
        response = api.post("/projects", json_body={"name": "conflicted"})
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert api.get("/projects/root%2Fconflicted").status == 404


def test_read_throttling_on_authentication_is_429_not_401(api):
    with inject("dynamodb", Fault("GetItem", "ThrottlingException", times=10)):
        response = api.get("/user")
    assert response.status == 429


def test_unexpected_store_error_is_a_bare_500(api):
    with inject("dynamodb", Fault("GetItem", "ValidationException", times=1, message="secret table detail")):
        response = api.get("/user")
    assert response.status == 500
    assert response.json() == {"message": "500 Internal Server Error"}
    assert "secret" not in response.text


def test_kms_unavailable_at_cold_start_is_a_retryable_503(api):
    from cluster_agents import crypto

    crypto.reset_keys()  # a cold container: the digest key is derived on the first request
    fault = Fault("GenerateMac", "KMSInternalException", times=10)
    with inject("kms", fault):
        response = api.get("/user")
    assert response.status == 503
    assert response.headers["Retry-After"] == "1"
    assert api.get("/user").status == 200  # the next request derives the key and succeeds
