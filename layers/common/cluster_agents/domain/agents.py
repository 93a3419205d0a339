"""Cluster agents and their tokens (SPEC §2, §3): the records and GitLab's rules for them.

Mirrors ``Clusters::Agent`` and ``Clusters::AgentToken``: validation messages are Rails' full
messages, every failing one reported, in the model's declaration order."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from cluster_agents import crypto

AGENT_NAME_MAX = 63
AGENT_NAME_FORMAT = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?")  # Ruby's \A...\z, used with fullmatch
AGENT_NAME_FORMAT_MESSAGE = "Name can contain only lowercase letters, digits, and '-', but cannot start or end with '-'"
NAME_TAKEN = "Name has already been taken"

TOKEN_LIMIT = 2  # active tokens per agent
TOKEN_PREFIX = "glagent-"
TOKEN_RANDOM_LENGTH = 50
TOKEN_NAME_MAX = 255
TOKEN_DESCRIPTION_MAX = 1024

TokenStatus = Literal["active", "revoked"]


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


@dataclass(frozen=True)
class AgentToken:
    id: int
    agent_id: int
    name: str
    description: str | None
    status: TokenStatus
    created_at: str
    created_by_user_id: int
    last_used_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


def _blank(value: str | None) -> bool:
    """Rails' ``blank?`` for a string attribute."""
    return value is None or not value.strip()


def agent_name_errors(name: str | None) -> list[str]:
    """The messages of ``Clusters::Agent``'s name validations that fail, uniqueness excepted
    (the store enforces it; a name failing these can never be taken, so it is never combined)."""
    messages = []
    if _blank(name):
        messages.append("Name can't be blank")
    if name is not None and len(name) > AGENT_NAME_MAX:
        messages.append(f"Name is too long (maximum is {AGENT_NAME_MAX} characters)")
    if not AGENT_NAME_FORMAT.fullmatch(name or ""):
        messages.append(AGENT_NAME_FORMAT_MESSAGE)
    return messages


def token_field_errors(name: str | None, description: str | None) -> list[str]:
    """The messages of ``Clusters::AgentToken``'s validations that fail, in declaration order."""
    messages = []
    if description is not None and len(description) > TOKEN_DESCRIPTION_MAX:
        messages.append(f"Description is too long (maximum is {TOKEN_DESCRIPTION_MAX} characters)")
    if _blank(name):
        messages.append("Name can't be blank")
    if name is not None and len(name) > TOKEN_NAME_MAX:
        messages.append(f"Name is too long (maximum is {TOKEN_NAME_MAX} characters)")
    return messages


def new_token_secret() -> str:
    """``glagent-`` and 50 URL-safe characters from the OS CSPRNG (58 in all)."""
    return crypto.random_token(TOKEN_PREFIX, TOKEN_RANDOM_LENGTH)


def by_last_use(tokens: Iterable[AgentToken]) -> list[AgentToken]:
    """GitLab's ``order_last_used_at_desc`` (never used last), ties by ascending id."""
    used = sorted((t for t in tokens if t.last_used_at), key=lambda t: t.id)
    used.sort(key=lambda t: t.last_used_at or "", reverse=True)
    never = sorted((t for t in tokens if not t.last_used_at), key=lambda t: t.id)
    return used + never
