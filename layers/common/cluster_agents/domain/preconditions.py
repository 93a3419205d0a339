"""``If-Unmodified-Since`` as GitLab's ``check_unmodified_since!`` reads it (SPEC §2, §4)."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_http_time(value: str | None) -> datetime | None:
    """The header as Ruby's ``Time.parse`` reads its common forms: an HTTP date, or ISO-8601 such
    as ``1990-01-12T00:00:48-0600`` (no zone: UTC). None when unparseable: the header is ignored."""
    if not value or not value.strip():
        return None
    from email.utils import parsedate_to_datetime  # deferred: only requests with a precondition header

    text = value.strip()
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
        except (ValueError, OverflowError):
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def modified_since(last_modified: datetime, if_unmodified_since: str | None) -> bool:
    """True when the record changed after the given time (412). Like GitLab, the record's exact
    change time is compared, so a whole-second header is stale for a change later in that second."""
    since = parse_http_time(if_unmodified_since)
    return since is not None and last_modified > since
