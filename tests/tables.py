"""Reading the tables behind the API directly, to check what a test's requests left there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def scan_all(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every item of ``table`` (strongly consistent, all pages), as plain Python values."""
    from cluster_agents.store.dynamo import from_item

    start = None
    while True:
        more = {"ExclusiveStartKey": start} if start else {}
        page = client.scan(TableName=table, ConsistentRead=True, **more)
        yield from (from_item(raw) for raw in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return
