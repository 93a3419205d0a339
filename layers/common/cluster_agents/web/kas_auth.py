"""The agent server's two credentials: its request JWT, then (for agent routes) the agent's token."""

from __future__ import annotations

import re

from cluster_agents import kas
from cluster_agents.errors import KasAuthenticationInvalid
from cluster_agents.web.request import current

# KAS moved from ``Authorization: Bearer`` to this header; older ones sent Gitlab-Agent-Api-Request.
AGENT_TOKEN_HEADERS = ("Gitlab-Agentk-Api-Request", "Gitlab-Agent-Api-Request")
_AUTHORIZATION = re.compile(r"\A\s*(?:Bearer|Token)\s+(?:token=\"?)?([^\s\",]+)", re.IGNORECASE)


def authenticate_kas_request() -> None:
    """401 ``KAS JWT authentication invalid`` unless the request carries a current KAS JWT."""
    if not kas.verify_request_jwt(current().header(kas.JWT_HEADER)):
        raise KasAuthenticationInvalid()


def agent_token() -> str | None:
    """The agent token: ``Authorization`` when the request has one (as GitLab reads it: Bearer or
    Token), else the agent header."""
    request = current()
    authorization = request.header("authorization")
    if authorization and authorization.strip():
        found = _AUTHORIZATION.match(authorization)
        return found.group(1) if found else None
    for name in AGENT_TOKEN_HEADERS:
        value = (request.header(name) or "").strip()
        if value:
            return value
    return None
