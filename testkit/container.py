"""This process as a Lambda container: forgetting what a warm container keeps."""

from __future__ import annotations

import sys


def reset_caches() -> None:
    """Forget every per-container cache (clients, derived keys, repositories, settings): the next
    request behaves like the first one of a fresh Lambda container."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("cluster_agents"):
            continue
        for value in list(vars(module).values()):
            if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == name:
                value.cache_clear()


def expire_recent_copies() -> None:
    """Age the container's copies of hot items (``store/recent_copies.py``) past their second: the
    next request reads the items, as a request more than a second after the last one would."""
    from cluster_agents.store.recent_copies import ci_access_copies

    ci_access_copies.cache_clear()
