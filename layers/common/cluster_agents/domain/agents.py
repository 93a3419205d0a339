"""Cluster agents and their tokens (SPEC §2, §3)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Agent:
    id: int
    project_id: int
    name: str
    created_at: str
    created_by_user_id: int
    is_receptive: bool = False
    updated_at: str = ""
    active_tokens: int = 0  # how many of its tokens are active (kept by the same transactions)
    version: int = 0  # bumped by every change to what the agent owns (tokens, URL configuration, ci_access)
