"""Backfill the receptive-agents index (``RECEPTIVE / AGENT#<agent id:012d>``) for URL
configurations written before it existed, so the agent server lists them. Idempotent, safe while
the API serves: each entry is put only where none is and only while its configuration is still
there (``UrlConfigurationRepository.index``).

    AGENTS_TABLE=<table name> PYTHONPATH=layers/common .venv/bin/python -m cluster_agents.ops.backfill_receptive_index

It scans the agents table once (an operator's one-off, like ``make check``); ``make check``
reports any configuration still missing from the index."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any


def configurations(table: str) -> Iterator[dict[str, Any]]:
    """Every URL configuration item (``AGENT#<id> / U``) of the table."""
    from cluster_agents.store import dynamo

    start = None
    while True:
        request: dict[str, Any] = {
            "TableName": table,
            "ConsistentRead": True,
            "FilterExpression": "sk = :u",
            "ExpressionAttributeValues": {":u": {"S": "U"}},
        }
        if start:
            request["ExclusiveStartKey"] = start
        with dynamo.translated():
            page = dynamo.ddb().scan(**request)
        yield from (dynamo.from_item(item) for item in page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return


def backfill(table: str) -> tuple[int, int]:
    """(configurations seen, index entries written)."""
    from cluster_agents.store.url_configurations import UrlConfigurationRepository

    repository = UrlConfigurationRepository(table)
    seen = written = 0
    for item in configurations(table):
        seen += 1
        written += repository.index(item)
    return seen, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Backfill the receptive-agents index of the agents table.")
    parser.add_argument("--table", default=os.environ.get("AGENTS_TABLE", "AgentsTable"))
    args = parser.parse_args(argv)
    seen, written = backfill(args.table)
    print(f"{args.table}: {seen} URL configuration(s), {written} index entr{'y' if written == 1 else 'ies'} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
