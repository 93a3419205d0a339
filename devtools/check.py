"""`make check`: read-only check of the agents table's invariants (see cluster_agents.ops.invariants).

    AGENTS_TABLE=<table name> make check          # a deployed table (usual AWS credentials/region)
    AWS_ENDPOINT_URL=http://127.0.0.1:5000 make check   # a local moto server (table AgentsTable)

Exit status: 0 when every invariant holds, 1 when any is violated, 2 when the table cannot be read."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from typing import Any


def scan(table: str) -> Iterator[dict[str, Any]]:
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    deserializer = TypeDeserializer()
    paginator = boto3.client("dynamodb").get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            yield {key: _plain(deserializer.deserialize(value)) for key, value in item.items()}


def _plain(value: Any) -> Any:
    from decimal import Decimal

    return int(value) if isinstance(value, Decimal) and value == value.to_integral_value() else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the agents table's invariants (read-only).")
    parser.add_argument("--table", default=os.environ.get("AGENTS_TABLE", "AgentsTable"))
    args = parser.parse_args(argv)
    from cluster_agents.ops.invariants import check_items

    try:
        report = check_items(scan(args.table))
    except Exception as error:
        print(f"check: cannot read table {args.table}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    for violation in report.violations:
        print(f"VIOLATION {violation}")
    print(f"{args.table}: {report.items_read} items, {report.agents} agents, {len(report.violations)} violation(s)")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "layers", "common"))
    sys.exit(main())
