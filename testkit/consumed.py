"""What one DynamoDB call consumed, in capacity units: the call's parameters and answer, plus the
whole items it touched, read with a probe client that has no counting hooks.

``before(operation, params)`` (called before the request is sent) reads the items a write may
replace; ``units(operation, params, parsed, before)`` (after the answer) reads what the write left
and what a projected or filtered read evaluated, and applies testkit/capacity.py's rules."""

from __future__ import annotations

import re
from typing import Any

from testkit import capacity
from testkit.capacity import Capacity

Key = tuple[str, str, str]  # table, pk, sk
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


class Probe:
    """Reads whole items through its own client (same endpoint and region, no hooks)."""

    def __init__(self, hooked_client: Any) -> None:
        import boto3

        meta = hooked_client.meta
        self._client = boto3.session.Session().client(
            "dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url
        )

    def get(self, key: Key) -> dict | None:
        table, pk, sk = key
        return self._client.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True).get(
            "Item"
        )

    def evaluated(self, operation: str, params: dict, scanned: int) -> list[dict]:
        """The whole items a Query/Scan page evaluated: the same key condition, start and limit
        without projection and filter, its first ``scanned`` items."""
        kept = {
            name: params[name]
            for name in (
                "TableName",
                "IndexName",
                "KeyConditionExpression",
                "ExclusiveStartKey",
                "ScanIndexForward",
                "ConsistentRead",
                "Limit",
            )
            if name in params
        }
        used = set(_PLACEHOLDER.findall(params.get("KeyConditionExpression", "")))
        names = {k: v for k, v in (params.get("ExpressionAttributeNames") or {}).items() if k in used}
        values = {k: v for k, v in (params.get("ExpressionAttributeValues") or {}).items() if k in used}
        if names:
            kept["ExpressionAttributeNames"] = names
        if values:
            kept["ExpressionAttributeValues"] = values
        call = self._client.query if operation == "Query" else self._client.scan
        return call(**kept).get("Items", [])[:scanned]


def _key_of(table: str, key_or_item: dict) -> Key:
    return table, key_or_item["pk"]["S"], key_or_item["sk"]["S"]


def written_keys(operation: str, params: dict) -> list[tuple[Key, str]]:
    """(key, kind) of every item a write touches; kind is Put, Update, Delete or ConditionCheck."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        kind = operation.removesuffix("Item")
        return [(_key_of(params["TableName"], params.get("Key") or params["Item"]), kind)]
    if operation == "TransactWriteItems":
        out = []
        for action in params.get("TransactItems", []):
            ((kind, body),) = action.items()
            out.append((_key_of(body["TableName"], body.get("Key") or body["Item"]), kind))
        return out
    if operation == "BatchWriteItem":
        out = []
        for table, requests in (params.get("RequestItems") or {}).items():
            for request in requests:
                if "PutRequest" in request:
                    out.append((_key_of(table, request["PutRequest"]["Item"]), "Put"))
                else:
                    out.append((_key_of(table, request["DeleteRequest"]["Key"]), "Delete"))
        return out
    return []


def before(probe: Probe, operation: str, params: dict) -> dict[Key, dict | None]:
    """The items a write may replace, as they are before it is sent."""
    if operation not in WRITES:
        return {}
    return {key: probe.get(key) for key, _ in written_keys(operation, params)}


def _unprocessed_writes(parsed: dict) -> set[Key]:
    keys = set()
    for table, requests in (parsed.get("UnprocessedItems") or {}).items():
        for request in requests:
            body = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get("Key")
            keys.add(_key_of(table, body))
    return keys


def _unprocessed_reads(parsed: dict) -> set[Key]:
    return {
        _key_of(table, key)
        for table, request in (parsed.get("UnprocessedKeys") or {}).items()
        for key in request.get("Keys", [])
    }


def units(probe: Probe, operation: str, params: dict, parsed: dict, images: dict[Key, dict | None]) -> Capacity:
    """Capacity units of one call by DynamoDB's rules (testkit/capacity.py)."""
    failed = bool(parsed.get("Error"))
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        if failed:
            return Capacity()
        item = parsed.get("Item")
        if item is not None and "ProjectionExpression" in params:
            item = probe.get(_key_of(params["TableName"], params["Key"]))
        return capacity.get_item(item, consistent)
    if operation == "BatchGetItem":
        if failed:
            return Capacity()
        skipped = _unprocessed_reads(parsed)
        total = Capacity()
        for table, request in (params.get("RequestItems") or {}).items():
            for key in request.get("Keys", []):
                if _key_of(table, key) not in skipped:
                    total += capacity.get_item(probe.get(_key_of(table, key)), bool(request.get("ConsistentRead")))
        return total
    if operation in ("Query", "Scan"):
        if failed:
            return Capacity()
        scanned = int(parsed.get("ScannedCount", parsed.get("Count", 0)))
        whole = (
            "ProjectionExpression" not in params
            and "FilterExpression" not in params
            and params.get("Select") in (None, "ALL_ATTRIBUTES")
        )
        items = parsed.get("Items", []) if whole else probe.evaluated(operation, params, scanned)
        return capacity.query(items, consistent)
    if operation == "TransactGetItems":
        if failed:
            return Capacity()
        keys = [_key_of(action["Get"]["TableName"], action["Get"]["Key"]) for action in params.get("TransactItems", [])]
        return capacity.transact_get([probe.get(key) for key in keys])
    if operation in WRITES:
        if failed and operation == "BatchWriteItem":  # refused whole (throttled): nothing written
            return Capacity()
        transactional = operation == "TransactWriteItems"
        skipped = _unprocessed_writes(parsed) if operation == "BatchWriteItem" and not failed else set()
        total = Capacity()
        for key, kind in written_keys(operation, params):
            if key in skipped:
                continue
            old = images.get(key)
            new = old if failed or kind == "ConditionCheck" else probe.get(key)
            total += capacity.write(old, new, transactional=transactional)
        return total
    return Capacity()
