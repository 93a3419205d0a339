"""The receptive-agents index (``RECEPTIVE / AGENT#<agent id:012d>``, layout in ``store/keys.py``)
and its generation: every transaction that puts or deletes an entry also raises
``RECEPTIVE#GENERATION`` by one, so the index and its generation change together or not at all.

A container keeps its last reading of the index with the generation it read just before. A warm
listing reads the generation alone (one eventually consistent GetItem, half a read unit) and
queries the index again only when the generation has moved: so polling the list costs the same
with 2 receptive agents as with 500, and a change is read once per container.

Why a copy is never older than its label: the generation is read first, then the index with a
strongly consistent Query, which sees every transaction committed before it ran, among them the
one that raised the generation to the value read. A replica that lags behind can answer an
older generation: a copy is then labelled older than it is (one more Query later), or the copy
is served for the moment the replica lags, the staleness of any eventually consistent read,
which the agent server, polling on its own schedule, cannot tell from a later poll. A writer
that does not raise the generation (an older version during a deploy, a hand edit) is seen
within ``MAX_AGE_SECONDS``."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from cluster_agents.domain.url_configurations import PrivateKind
from cluster_agents.store import dynamo
from cluster_agents.store.keys import RECEPTIVE_GENERATION_KEY, RECEPTIVE_PK, receptive_key

MAX_AGE_SECONDS = 60.0
_GENERATION = "generation"


# Where the URL configuration item and its entry keep the sealed private material, by kind.
SEALED_ATTRIBUTE: dict[PrivateKind, str] = {
    "private_key": "private_key_encrypted",
    "client_key": "client_key_encrypted",
}
# What an entry copies from the URL configuration item: what the agent server's list needs.
ENTRY_ATTRIBUTES = ("agent_id", "id", "url", "ca_cert", "tls_host", "client_cert", *SEALED_ATTRIBUTE.values())


def entry_for(configuration_item: dict[str, Any]) -> dict[str, Any]:
    pk, sk = receptive_key(configuration_item["agent_id"])
    return {
        "pk": pk,
        "sk": sk,
        **{name: configuration_item[name] for name in ENTRY_ATTRIBUTES if name in configuration_item},
    }


def raise_generation(table: str) -> dict:
    """The action every transaction that puts or deletes an index entry carries."""
    return dynamo.update_action(
        table, *RECEPTIVE_GENERATION_KEY, "ADD #generation :one", names={"#generation": _GENERATION}, values={":one": 1}
    )


@dataclass(frozen=True)
class _Reading:
    generation: int
    items: list[dict[str, Any]]
    read_at: float


class ReceptiveIndex:
    """The index's entries, in agent id order, as this container last read them while current."""

    def __init__(self, table: str) -> None:
        self.table = table
        self._reading: _Reading | None = None

    def entries(self) -> list[dict[str, Any]]:
        generation = self._generation()
        reading = self._reading
        if reading is None or reading.generation != generation or time.monotonic() - reading.read_at > MAX_AGE_SECONDS:
            items = dynamo.query_all(self.table, RECEPTIVE_PK, consistent=True)
            reading = self._reading = _Reading(generation, items, time.monotonic())
        return reading.items

    def _generation(self) -> int:
        item = dynamo.get(self.table, *RECEPTIVE_GENERATION_KEY, consistent=False)
        return int(item[_GENERATION]) if item else 0
