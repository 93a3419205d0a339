"""DynamoDB's request limits that moto does not enforce, enforced on every DynamoDB client the
tests make (``conftest.py`` registers ``refuse_what_dynamodb_refuses`` on each as it is made): a route that sends such a
request then fails as it would against DynamoDB (a ValidationException: a 500), so no test passes
with a request DynamoDB would refuse.

- a partition key over 2,048 bytes or a sort key over 1,024 bytes (UTF-8), in any key a request
  names, an item it writes or a key condition it queries by;
- a Query or Scan ``Limit`` above 2^31 - 1 (DynamoDB's integer)."""

from __future__ import annotations

import re
from typing import Any

PARTITION_KEY_BYTES = 2048
SORT_KEY_BYTES = 1024
MAX_LIMIT = 2**31 - 1
KEY_NAMES = ("pk", "sk")  # every table of template.yaml


def _too_long(name: str, value: Any) -> str | None:
    if not isinstance(value, dict) or "S" not in value:
        return None
    size = len(value["S"].encode("utf-8", "surrogatepass"))
    limit = PARTITION_KEY_BYTES if name == "pk" else SORT_KEY_BYTES
    if size > limit:
        kind = "hashkey" if name == "pk" else "rangekey"
        return (
            f"One or more parameter values were invalid: Size of {kind} has exceeded the maximum size "
            f"limit of {limit} bytes"
        )
    return None


def _keys_in(params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every key or item a request names (of GetItem, PutItem, UpdateItem, DeleteItem, the
    Batch* and Transact* requests, and a Query's ExclusiveStartKey)."""
    found = [params[name] for name in ("Key", "Item", "ExclusiveStartKey") if isinstance(params.get(name), dict)]
    for table in (params.get("RequestItems") or {}).values():
        if isinstance(table, dict):  # BatchGetItem
            found += list(table.get("Keys", []))
        else:  # BatchWriteItem
            for request in table:
                found += [request["PutRequest"]["Item"]] if "PutRequest" in request else []
                found += [request["DeleteRequest"]["Key"]] if "DeleteRequest" in request else []
    for action in params.get("TransactItems", []):
        for body in action.values():
            found += _keys_in(body)
    return found


def _key_condition_values(params: dict[str, Any]) -> list[tuple[str, dict]]:
    """(key name, value) for the values a Query's key condition compares a key with: each clause
    (``pk = :pk``, then ``begins_with(sk, :prefix)`` or ``sk BETWEEN :low AND :high``) names one key."""
    condition = params.get("KeyConditionExpression") or ""
    values = params.get("ExpressionAttributeValues") or {}
    names = params.get("ExpressionAttributeNames") or {}
    found = []
    for clause in re.split(r"\s+AND\s+", condition, maxsplit=1, flags=re.IGNORECASE):  # pk's, then sk's
        operands = re.findall(r"[#:]?\w+", clause)
        keys = [names.get(op, op) for op in operands if not op.startswith(":") and names.get(op, op) in KEY_NAMES]
        found += [(keys[0], values[op]) for op in operands if keys and op.startswith(":") and op in values]
    return found


def refusal(operation: str, params: dict[str, Any]) -> str | None:
    """DynamoDB's ValidationException message for a request it refuses, None when it accepts it."""
    if operation in ("Query", "Scan") and isinstance(params.get("Limit"), int) and params["Limit"] > MAX_LIMIT:
        return f"1 validation error detected: Value '{params['Limit']}' at 'limit' failed to satisfy constraint"
    for item in _keys_in(params):
        for name in KEY_NAMES:
            message = _too_long(name, item.get(name))
            if message:
                return message
    for name, value in _key_condition_values(params):
        message = _too_long(name, value)
        if message:
            return message
    return None


def refuse_what_dynamodb_refuses(params: dict[str, Any], model: Any, **_: Any) -> None:
    """A botocore ``before-parameter-build.dynamodb`` handler: raises the ValidationException
    DynamoDB would answer a refused request with (the request is never sent)."""
    from botocore.exceptions import ClientError

    message = refusal(model.name, params)
    if message is not None:
        raise ClientError(
            {"Error": {"Code": "ValidationException", "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
            model.name,
        )


def guard(client: Any) -> Any:
    """Register the handler on a DynamoDB client (once); other clients are left alone."""
    if client.meta.service_model.service_name == "dynamodb":
        client.meta.events.register(
            "before-parameter-build.dynamodb", refuse_what_dynamodb_refuses, unique_id="tests-dynamodb-limits"
        )
    return client
