"""DynamoDB capacity units from item sizes, by DynamoDB's documented rules.

moto answers ``ReturnConsumedCapacity`` with placeholders (1.0 for a 5 KB PutItem, 0.5 for a
strongly consistent GetItem, nothing for transactions), so testkit computes capacity itself:

Item size (Developer Guide, "DynamoDB item sizes and formats"): the sum over attributes of the
name's UTF-8 bytes plus the value's size. String: UTF-8 bytes; Number: 1 byte per two significant
digits (leading and trailing zeros trimmed) + 1; Binary: raw bytes; Null and Boolean: 1 byte;
List and Map: 3 bytes + their elements, 1 byte more per element; sets: the sum of their members.

Read units ("Capacity unit consumption for read operations"): an item size is rounded up to the
next 4 KB; strongly consistent 1 unit per 4 KB, eventually consistent half of that, transactional
twice that. GetItem and every item of a BatchGetItem is rounded on its own (an item that is not
there still costs the minimum, one 4 KB block); a Query or Scan sums the sizes of every item it
evaluated (before any filter, whatever the projection) and rounds the total once.

Write units ("Capacity unit consumption for write operations"): 1 unit per 1 KB of the larger of
the item before and after the write (PutItem, UpdateItem), of the deleted item (DeleteItem), at
least one; transactional writes (every action of TransactWriteItems, ConditionCheck included)
twice that. A conditional write whose condition fails still consumes its units."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

READ_BLOCK = 4096
WRITE_BLOCK = 1024


# ---------------------------------------------------------------- sizes (DynamoDB JSON: {"S": "x"})
def number_size(text: str) -> int:
    """Bytes of a Number value: 1 per two significant digits, plus 1."""
    digits = format(abs(Decimal(text)), "f").replace(".", "").strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value (without its name)."""
    ((kind, body),) = value.items()
    if kind == "S":
        return len(body.encode("utf-8"))
    if kind == "N":
        return number_size(body)
    if kind == "B":
        return len(_raw(body))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(member.encode("utf-8")) for member in body)
    if kind == "NS":
        return sum(number_size(member) for member in body)
    if kind == "BS":
        return sum(len(_raw(member)) for member in body)
    if kind == "L":
        return 3 + sum(value_size(element) + 1 for element in body)
    if kind == "M":
        return 3 + sum(len(name.encode("utf-8")) + value_size(element) + 1 for name, element in body.items())
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def _raw(body: Any) -> bytes:
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    return base64.b64decode(body)


def item_size(item: dict[str, dict[str, Any]] | None) -> int:
    """Bytes of an item: every attribute's name plus its value."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in (item or {}).items())


# ---------------------------------------------------------------- units
def read_units(size: int, *, consistent: bool = True, transactional: bool = False) -> float:
    """Read units of reading ``size`` bytes as one unit of rounding (one item, or a Query's total)."""
    blocks = max(1, math.ceil(size / READ_BLOCK))
    return blocks * (2.0 if transactional else 1.0 if consistent else 0.5)


def write_units(size: int, *, transactional: bool = False) -> float:
    """Write units of writing an item whose larger image (before or after) is ``size`` bytes."""
    return max(1, math.ceil(size / WRITE_BLOCK)) * (2.0 if transactional else 1.0)


@dataclass(frozen=True)
class Capacity:
    """Capacity units of one call (or the sum of several)."""

    read: float = 0.0
    write: float = 0.0

    def __add__(self, other: Capacity) -> Capacity:
        return Capacity(self.read + other.read, self.write + other.write)

    @property
    def total(self) -> float:
        return self.read + self.write


def get_item(item: dict | None, consistent: bool = True) -> Capacity:
    return Capacity(read=read_units(item_size(item), consistent=consistent))


def batch_get(items: list[dict | None], consistent: bool = True) -> Capacity:
    """Each key of a BatchGetItem on its own (a missing item: the minimum)."""
    return Capacity(read=sum(read_units(item_size(item), consistent=consistent) for item in items))


def query(items: list[dict], consistent: bool = True) -> Capacity:
    """A Query or Scan page: the evaluated items' sizes summed, then rounded once."""
    return Capacity(read=read_units(sum(item_size(item) for item in items), consistent=consistent))


def transact_get(items: list[dict | None]) -> Capacity:
    return Capacity(read=sum(read_units(item_size(item), transactional=True) for item in items))


def write(before: dict | None, after: dict | None, transactional: bool = False) -> Capacity:
    """PutItem / UpdateItem / DeleteItem / ConditionCheck: the larger of the two images."""
    return Capacity(write=write_units(max(item_size(before), item_size(after)), transactional=transactional))
