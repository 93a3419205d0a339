"""Integer ids from the atomic ``COUNTER / <entity>`` items, handed out from blocks reserved per
container.

One counter item serves at most 1,000 write units a second (one partition's limit), so one
``UpdateItem ADD 1`` per creation would cap the creations of an entity at 1,000 a second across
all tenants. Instead a container reserves a block of ids with one ``UpdateItem ADD n`` (atomic:
no two reservations, of any container, ever overlap) and hands them out from memory, one per
creation, until the block is used up. The block doubles with each refill of the container, from 1
to ``MAX_BLOCK``: a fresh container (a test, a cold Lambda) takes exactly the counter's next id and
wastes none when it stops early, and a busy one spends one write unit per ``MAX_BLOCK``
creations, which raises the entity's ceiling to ``MAX_BLOCK`` x 1,000 creations a second.

What this keeps: ids are unique positive integers under any race, and one container hands them out
in increasing order (consecutive while no other container reserves in between). What it gives up:
ids that a container reserved and did not use before it ended are never used (gaps, as GitLab's
own ids have), and across containers the id order is no longer the creation order (where it must
be, among one agent's tokens, ``store/agent_tokens.py`` keeps it). A creation
makes no more DynamoDB calls than before: in the common case none, one ``UpdateItem`` per refill.

``id_blocks.cache_clear()`` (the tests' and the bench's reset of per-container caches) forgets
every block, as a new container would."""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

from cluster_agents.store import dynamo
from cluster_agents.store.keys import COUNTER_PK

MAX_BLOCK = 32  # ids reserved at most by one refill (one write unit of the counter item)


@dataclass
class _Block:
    next: int = 0  # the next id to hand out
    end: int = 0  # one past the last id reserved
    size: int = 0  # ids reserved by the last refill


@dataclass
class IdBlocks:
    """The blocks of one container, by (table, entity)."""

    max_block: int = MAX_BLOCK
    _blocks: dict[tuple[str, str], _Block] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, table: str, entity: str) -> int:
        with self._lock:
            block = self._blocks.setdefault((table, entity), _Block())
            if block.next >= block.end:
                size = min(self.max_block, max(1, 2 * block.size))
                last = reserve_ids(table, entity, size)  # StoreBusy: nothing reserved, nothing changed
                block.next, block.end, block.size = last - size + 1, last + 1, size
            taken = block.next
            block.next += 1
            return taken


@functools.cache
def id_blocks() -> IdBlocks:
    return IdBlocks()


def next_id(table: str, entity: str) -> int:
    """A new id of ``entity``, unique in ``table`` whatever other containers do."""
    return id_blocks().take(table, entity)


def reserve_ids(table: str, entity: str, count: int) -> int:
    """Reserve ``count`` ids of ``entity`` with one atomic ``UpdateItem ADD``: the last of them
    (they are ``last - count + 1`` to ``last``, never handed out to anyone else)."""
    with dynamo.translated():
        response = dynamo.ddb().update_item(
            TableName=table,
            Key=dynamo.key(COUNTER_PK, entity),
            UpdateExpression="ADD #value :count",
            ExpressionAttributeNames={"#value": "value"},
            ExpressionAttributeValues={":count": {"N": str(count)}},
            ReturnValues="UPDATED_NEW",
        )
    return int(response["Attributes"]["value"]["N"])


def next_ids(table: str, entity: str, attributes: Sequence[str]) -> dict[str, int]:
    """The next value of several counters kept as ``attributes`` of ONE counter item (``entity``),
    all raised in one UpdateItem: ``{attribute: its new value}``."""
    names = {f"#c{n}": attribute for n, attribute in enumerate(attributes)}
    with dynamo.translated():
        response = dynamo.ddb().update_item(
            TableName=table,
            Key=dynamo.key(COUNTER_PK, entity),
            UpdateExpression="ADD " + ", ".join(f"{name} :one" for name in names),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
    return {attribute: int(response["Attributes"][attribute]["N"]) for attribute in attributes}
