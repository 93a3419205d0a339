"""If-Unmodified-Since parsing and comparison (domain, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cluster_agents.domain.preconditions import modified_since, parse_http_time

CHANGED = datetime(2024, 5, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    "header,expected",
    [
        ("1990-01-12T00:00:48-0600", datetime(1990, 1, 12, 6, 0, 48, tzinfo=UTC)),
        ("Fri, 12 Jan 1990 06:00:48 GMT", datetime(1990, 1, 12, 6, 0, 48, tzinfo=UTC)),
        ("2024-05-01T12:00:00.250Z", CHANGED),
        ("2000-01-01", datetime(2000, 1, 1, tzinfo=UTC)),
    ],
)
def test_forms_that_parse(header, expected):
    assert parse_http_time(header) == expected


@pytest.mark.parametrize("header", [None, "", "  ", "garbage", "32 Foo 2020", "2024-13-01"])
def test_unparseable_headers_are_ignored(header):
    assert parse_http_time(header) is None
    assert modified_since(CHANGED, header) is False


def test_exact_comparison_like_gitlab():
    assert modified_since(CHANGED, "Wed, 01 May 2024 12:00:00 GMT") is True
    assert modified_since(CHANGED, "2024-05-01T12:00:00.250Z") is False
    assert modified_since(CHANGED, "Wed, 01 May 2024 12:00:01 GMT") is False
