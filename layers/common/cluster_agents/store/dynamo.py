"""Thin helpers over the low-level DynamoDB client: (de)serialisation, error translation,
atomic counters and transactions whose cancellation reasons callers can read."""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar, overload

from cluster_agents import clock
from cluster_agents.aws import THROTTLING_CODES, busy_on_transient_errors, client
from cluster_agents.errors import KeyTooLong, StoreBusy

CONFLICT_PAUSE = 0.02  # seconds: the longest first pause after a TransactionConflict, doubled each time
CONFLICT_ATTEMPTS = 5  # tries of a transaction that may collide on a shared item, then 503
BATCH_GET_LIMIT = 100  # keys per BatchGetItem request (DynamoDB's limit)
PARTITION_KEY_BYTES = 2048  # DynamoDB's limits on a key's size, in UTF-8 bytes
SORT_KEY_BYTES = 1024
UNPROCESSED_RETRIES = 8  # batch requests again for what DynamoDB left unprocessed (throttled), then 429
T = TypeVar("T")


def ddb() -> Any:
    return client("dynamodb")


def _serializer() -> Any:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


def _deserializer() -> Any:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    if isinstance(value, set):
        return {_plain(inner) for inner in value}
    return value


def to_attr(value: Any) -> dict:
    return _serializer().serialize(value)


def to_item(values: dict[str, Any]) -> dict[str, dict]:
    serializer = _serializer()
    return {key: serializer.serialize(value) for key, value in values.items() if value is not None}


@overload
def from_item(item: dict[str, dict]) -> dict[str, Any]: ...
@overload
def from_item(item: None) -> None: ...
@overload
def from_item(item: dict[str, dict] | None) -> dict[str, Any] | None: ...
def from_item(item: dict[str, dict] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    deserializer = _deserializer()
    return {key: _plain(deserializer.deserialize(value)) for key, value in item.items()}


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def key_fits(pk: str, sk: str = "") -> bool:
    """Whether DynamoDB takes this key (a partition key of at most 2,048 bytes, a sort key of at
    most 1,024). An item under a longer key can never have been written, so a read of one finds
    nothing - without asking DynamoDB, which would refuse the request."""
    return _size(pk) <= PARTITION_KEY_BYTES and _size(sk) <= SORT_KEY_BYTES


def key(pk: str, sk: str) -> dict[str, dict]:
    """The key attributes of an item; KeyTooLong when DynamoDB would refuse them."""
    if not key_fits(pk, sk):
        raise KeyTooLong()
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class TransactionCancelled(Exception):
    """A transaction failed a condition; ``reasons`` has one code (or None) per action, in order."""

    def __init__(self, reasons: list[str | None]) -> None:
        super().__init__(reasons)
        self.reasons = reasons

    def failed(self, index: int) -> bool:
        return self.reasons[index] == "ConditionalCheckFailed"


class TransactionConflicted(StoreBusy):
    """A transaction cancelled only because another one was writing one of its items at the same
    moment (``TransactionConflict``): nothing was written. A StoreBusy (503) to whoever does not
    catch it; a caller that can recompute its writes may read again and retry."""


def pause_after_conflict(attempt: int) -> None:
    """A random pause (full jitter, doubling with ``attempt``) before retrying a transaction that
    collided with another, so the two do not collide again."""
    time.sleep(random.uniform(0, CONFLICT_PAUSE * 2**attempt))  # noqa: S311 - jitter, not a secret


def pause_before_unprocessed(attempt: int) -> None:
    """Back off before asking again for what a batch request left unprocessed (DynamoDB does
    that when it throttles): 50 ms, doubling, at most 1 s."""
    time.sleep(min(0.05 * 2**attempt, 1.0))


class ItemTooLarge(Exception):
    """A write would take an item past DynamoDB's 400 KB item size; nothing was written.

    ``index``: the position of the offending action in the transaction when DynamoDB names it
    (a cancellation reason), None when it does not (a plain ValidationException)."""

    def __init__(self, index: int | None) -> None:
        super().__init__(index)
        self.index = index


def _is_item_size_error(message: str | None) -> bool:
    # "Item size has exceeded the maximum allowed size" (a put) or "Item size to update has
    # exceeded the maximum allowed size" (an update)
    return message is not None and "Item size" in message and "exceeded the maximum allowed size" in message


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn throttling, conflicts and timeouts into StoreBusy (a retryable 429/503; a transaction
    cancelled by conflicts alone into its TransactionConflicted), a transaction whose condition
    failed into TransactionCancelled (for the caller to name), and a write past the item size
    limit into ItemTooLarge."""
    from botocore.exceptions import ClientError

    try:
        with busy_on_transient_errors():
            yield
    except ClientError as error:
        code, message = error.response.get("Error", {}).get("Code"), error.response.get("Error", {}).get("Message")
        if code == "ValidationException" and _is_item_size_error(message):
            raise ItemTooLarge(None) from error
        if code != "TransactionCanceledException":
            raise
        cancellations = error.response.get("CancellationReasons", [])
        reasons = [r.get("Code") if r.get("Code") != "None" else None for r in cancellations]
        too_large = [
            index
            for index, r in enumerate(cancellations)
            if r.get("Code") == "ValidationError" and _is_item_size_error(r.get("Message"))
        ]
        if too_large:
            raise ItemTooLarge(too_large[0]) from error
        if "ConditionalCheckFailed" not in reasons:  # conflicts, throttling, capacity: try again
            if "TransactionConflict" in reasons and set(reasons) <= {None, "TransactionConflict"}:
                raise TransactionConflicted() from error
            raise StoreBusy(throttled=any(r in THROTTLING_CODES or r == "ThrottlingError" for r in reasons)) from error
        raise TransactionCancelled(reasons) from error


def get(table: str, pk: str, sk: str, consistent: bool = True) -> dict[str, Any] | None:
    """The item, or None (also, without a request, for a key no item can have: ``key_fits``)."""
    if not key_fits(pk, sk):
        return None
    with translated():
        response = ddb().get_item(TableName=table, Key=key(pk, sk), ConsistentRead=consistent)
    return from_item(response.get("Item"))


def batch_get(
    requests: Mapping[str, Sequence[tuple[str, str]]], eventually: frozenset[str] = frozenset()
) -> dict[str, dict[tuple[str, str], dict]]:
    """Read many keys across tables in one round trip up to 100 keys (more only past that, or for
    DynamoDB's unprocessed keys); strongly consistent, but for the tables in ``eventually`` (half
    the read units; a write of the last second may not be seen yet).

    Returns ``{table: {(pk, sk): item}}`` for the items that exist (keys no item can have are not
    asked for: ``key_fits``)."""
    found: dict[str, dict[tuple[str, str], dict]] = {table: {} for table in requests}
    waiting = [(table, k) for table, keys in requests.items() for k in dict.fromkeys(keys) if key_fits(*k)]
    retries = 0
    while waiting:
        request: dict[str, dict[str, Any]] = {}
        for table, (pk, sk) in waiting[:BATCH_GET_LIMIT]:
            request.setdefault(table, {"Keys": [], "ConsistentRead": table not in eventually})["Keys"].append(
                key(pk, sk)
            )
        waiting = waiting[BATCH_GET_LIMIT:]
        with translated():
            response = ddb().batch_get_item(RequestItems=request)
        for table, items in response.get("Responses", {}).items():
            for raw in items:
                item = from_item(raw)
                found[table][(item["pk"], item["sk"])] = item
        unprocessed = [
            (table, (k["pk"]["S"], k["sk"]["S"]))
            for table, left in (response.get("UnprocessedKeys") or {}).items()
            for k in left["Keys"]
        ]
        if unprocessed:
            if retries == UNPROCESSED_RETRIES:
                raise StoreBusy(throttled=True)
            pause_before_unprocessed(retries)
            retries += 1
        waiting = unprocessed + waiting
    return found


@dataclass(frozen=True)
class Read(Generic[T]):
    """Keys of one table a repository wants, and how it makes its answer of the items found
    (``{(pk, sk): item}``, missing keys absent): for ``read_together``."""

    table: str
    keys: tuple[tuple[str, str], ...]
    answer: Callable[[dict[tuple[str, str], dict]], T]
    consistent: bool = True  # False: an eventually consistent read will do (see ``batch_get``)


def read_together(*reads: Read[Any]) -> list[Any]:
    """Several reads (of one or more repositories and tables) in ONE BatchGetItem (more only for
    DynamoDB's unprocessed keys); each read's answer, in order."""
    requests: dict[str, list[tuple[str, str]]] = {}
    for read in reads:
        requests.setdefault(read.table, []).extend(read.keys)
    eventually = frozenset(requests) - {read.table for read in reads if read.consistent}
    found = batch_get(requests, eventually)
    return [read.answer({k: found[read.table][k] for k in read.keys if k in found[read.table]}) for read in reads]


_SINGLE_WRITES = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


def transact(actions: list[dict]) -> None:
    """Write ``actions`` all or nothing. A single write goes as the plain conditional write it is
    (as atomic, at half a transaction's write capacity and one round trip either way); its failed
    condition is the same TransactionCancelled a transaction's would be."""
    from botocore.exceptions import ClientError

    single = actions[0] if len(actions) == 1 else {}
    kind = next(iter(single), None)
    if kind not in _SINGLE_WRITES:
        with translated():
            ddb().transact_write_items(TransactItems=actions)
        return
    try:
        with translated():
            getattr(ddb(), _SINGLE_WRITES[kind])(**single[kind])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        raise TransactionCancelled(["ConditionalCheckFailed"]) from error


def transact_through_conflicts(actions: list[dict]) -> None:
    """``transact`` for actions that stay right however often they are sent (their conditions
    decide): after a collision with another transaction on a shared item, which wrote nothing,
    the same actions again after a short random pause; TransactionConflicted after the last try."""
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            transact(actions)
            return
        except TransactionConflicted:
            if attempt + 1 == CONFLICT_ATTEMPTS:
                raise
            pause_after_conflict(attempt)


def put_action(table: str, item: dict[str, Any], condition: str | None = None, **expression: Any) -> dict:
    key(item["pk"], item["sk"])  # KeyTooLong before anything is sent
    body: dict[str, Any] = {"TableName": table, "Item": to_item(item)}
    if condition:
        body["ConditionExpression"] = condition
    body.update(_expression(**expression))
    return {"Put": body}


def update_action(table: str, pk: str, sk: str, update: str, condition: str | None = None, **expression: Any) -> dict:
    body: dict[str, Any] = {"TableName": table, "Key": key(pk, sk), "UpdateExpression": update}
    if condition:
        body["ConditionExpression"] = condition
    body.update(_expression(**expression))
    return {"Update": body}


def delete_action(table: str, pk: str, sk: str, condition: str | None = None, **expression: Any) -> dict:
    body: dict[str, Any] = {"TableName": table, "Key": key(pk, sk)}
    if condition:
        body["ConditionExpression"] = condition
    body.update(_expression(**expression))
    return {"Delete": body}


def condition_action(table: str, pk: str, sk: str, condition: str, **expression: Any) -> dict:
    body: dict[str, Any] = {"TableName": table, "Key": key(pk, sk), "ConditionExpression": condition}
    body.update(_expression(**expression))
    return {"ConditionCheck": body}


def _expression(names: dict[str, str] | None = None, values: dict[str, Any] | None = None) -> dict:
    body: dict[str, Any] = {}
    if names:
        body["ExpressionAttributeNames"] = names
    if values:
        body["ExpressionAttributeValues"] = {name: to_attr(value) for name, value in values.items()}
    return body


def query(
    table: str,
    pk: str,
    *,
    sk_prefix: str | None = None,
    limit: int | None = None,
    start_after: tuple[str, str] | None = None,
    forward: bool = True,
    projection: str | None = None,
    consistent: bool = True,
) -> tuple[list[dict[str, Any]], tuple[str, str] | None]:
    """One page of a partition (strongly consistent unless ``consistent`` is False); returns items
    and the last key read. A partition or prefix longer than any key can be holds nothing: no
    request."""
    if not key_fits(pk, sk_prefix or ""):
        return [], None
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk" + (" AND begins_with(sk, :prefix)" if sk_prefix else ""),
        "ExpressionAttributeValues": {":pk": {"S": pk}, **({":prefix": {"S": sk_prefix}} if sk_prefix else {})},
        "ConsistentRead": consistent,
        "ScanIndexForward": forward,
    }
    if limit:
        request["Limit"] = limit
    if start_after:
        request["ExclusiveStartKey"] = key(*start_after)
    if projection:
        request["ProjectionExpression"] = projection
    with translated():
        response = ddb().query(**request)
    items = [from_item(raw) for raw in response.get("Items", [])]
    last = response.get("LastEvaluatedKey")
    return items, ((last["pk"]["S"], last["sk"]["S"]) if last else None)


def query_all(table: str, pk: str, *, sk_prefix: str | None = None, consistent: bool = True) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    start = None
    while True:
        page, start = query(table, pk, sk_prefix=sk_prefix, start_after=start, consistent=consistent)
        items.extend(page)
        if start is None:
            return items


def record_last_use(table: str, pk: str, sk: str, last_used_at: str | None, now: datetime, interval: timedelta) -> bool:
    """SET the item's ``last_used_at`` to ``now``, at most once per ``interval``: nothing while the
    value as read (``last_used_at``) is that recent; else one UpdateItem on condition that the item
    exists and its value is still older (so concurrent uses write once, the value never moves back
    and a deleted item is never recreated). Returns whether it wrote; throttling raises StoreBusy."""
    from botocore.exceptions import ClientError

    threshold = clock.iso(now - interval)
    if last_used_at is not None and last_used_at >= threshold:
        return False
    try:
        with translated():
            ddb().update_item(
                TableName=table,
                Key=key(pk, sk),
                UpdateExpression="SET #used = :now",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#used) OR "
                "attribute_type(#used, :null) OR #used < :threshold)",
                ExpressionAttributeNames={"#used": "last_used_at"},
                ExpressionAttributeValues={
                    ":now": {"S": clock.iso(now)},
                    ":threshold": {"S": threshold},
                    ":null": {"S": "NULL"},
                },
            )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False  # another container recorded a use within the window, or the item is gone
    return True
