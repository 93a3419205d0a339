"""The job side's copies of ``CIACCESS#`` items, kept by a container for ``SECONDS``.

Every job under a top-level group reads that group's item, so one busy group would otherwise send
every ``/job/allowed_agents`` to the same partition (3,000 read units a second: a few hundred
requests a second once a thousand agents authorise the group, BENCHMARKS.md's hot keys). With a
copy, each container reads an item at most once a second, however many jobs it serves, and the
item's ceiling becomes a number of containers. An item that does not exist is kept as ``None``
(most projects have none).

What a job may then miss: a ci_access change of the last ``SECONDS`` (plus an eventually
consistent read's lag), which the job side already allowed for (``store/ci_access.py``: the
agent server itself applies a configuration only when it next reads the agent's repository). A
container forgets its copy of an item it writes, so its own writes are read back at once.

At most ``CAPACITY`` copies are kept (an item is at most 400 KB), the least recently read going
first."""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from cluster_agents.store.keys import Key

SECONDS = 1.0
CAPACITY = 64


class RecentCopies:
    def __init__(self) -> None:
        self._copies: OrderedDict[Key, tuple[float, dict[str, Any] | None]] = OrderedDict()

    def fresh(self, keys: Iterable[Key], now: float) -> dict[Key, dict[str, Any] | None]:
        """The copies of ``keys`` read less than ``SECONDS`` before ``now`` (None: no such item)."""
        found: dict[Key, dict[str, Any] | None] = {}
        for key in keys:
            copy = self._copies.get(key)
            if copy is not None and now - copy[0] < SECONDS:
                self._copies.move_to_end(key)
                found[key] = copy[1]
        return found

    def keep(self, keys: Iterable[Key], found: dict[Key, dict[str, Any]], read_at: float) -> None:
        """Keep what a read sent at ``read_at`` found for ``keys`` (a key not in ``found``: no item)."""
        for key in keys:
            self._copies[key] = (read_at, found.get(key))
            self._copies.move_to_end(key)
        while len(self._copies) > CAPACITY:
            self._copies.popitem(last=False)

    def forget(self, keys: Iterable[Key]) -> None:
        for key in keys:
            self._copies.pop(key, None)


@functools.cache
def ci_access_copies() -> RecentCopies:
    """This container's copies (one per container: ``functools.cache``)."""
    return RecentCopies()
