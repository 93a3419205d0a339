"""The agent server's two credentials: its request JWT, then (for agent routes) the agent's token."""

from __future__ import annotations

import re

from cluster_agents import agent_server_jwt
from cluster_agents.errors import KasAuthenticationInvalid
from cluster_agents.web.request import current

# GitLab's auth_finders.rb: the agentk header, and only when it is absent the newer common name.
AGENTK_TOKEN_HEADER = "Gitlab-Agentk-Api-Request"
AGENT_TOKEN_HEADER = "Gitlab-Agent-Api-Request"
_AUTHORIZATION = re.compile(r"\A\s*(?:Bearer|Token)\s+(?:token=\"?)?([^\s\",]+)", re.IGNORECASE)


def authenticate_kas_request() -> None:
    """401 ``KAS JWT authentication invalid`` unless the request carries a current KAS JWT."""
    if not agent_server_jwt.verify_request_jwt(current().header(agent_server_jwt.JWT_HEADER)):
        raise KasAuthenticationInvalid()


def agent_token() -> str | None:
    """The agent token (SPEC §7.1): a present ``Gitlab-Agentk-Api-Request`` decides alone (even
    empty or wrong); only when it is absent ``Gitlab-Agent-Api-Request`` does; only when neither
    is present ``Authorization`` (Bearer or Token, what older agent servers send)."""
    request = current()
    for name in (AGENTK_TOKEN_HEADER, AGENT_TOKEN_HEADER):
        value = request.header(name)
        if value is not None:
            return value.strip() or None
    authorization = request.header("authorization")
    if authorization and authorization.strip():
        found = _AUTHORIZATION.match(authorization)
        return found.group(1) if found else None
    return None
