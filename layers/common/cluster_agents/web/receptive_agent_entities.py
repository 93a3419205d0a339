"""The agent server's view of receptive agents (GitLab's ``API::Entities::Clusters::ReceptiveAgent``,
SPEC §7.3): certificates and keys as PEM text, the JWT private key as base64 of its 32-byte seed."""

from __future__ import annotations

import base64
from typing import Any

from cluster_agents.domain.url_configurations import ReceptiveAgent
from cluster_agents.web.entity import Entity


class ReceptiveJwt(Entity):
    private_key: str


class ReceptiveMtls(Entity):
    client_key: str | None
    client_cert: str | None


class ReceptiveAgentEntity(Entity):
    id: int
    url: str
    ca_cert: str | None
    tls_host: str | None
    jwt: ReceptiveJwt | None
    mtls: ReceptiveMtls | None


class ReceptiveAgentsBody(Entity):
    agents: list[ReceptiveAgentEntity]


def _text(pem: bytes | None) -> str | None:
    """PEM text as decoded at creation (validated PEM is ASCII; anything else is never an error)."""
    return pem.decode("utf-8", "replace") if pem is not None else None


def receptive_agent(agent: ReceptiveAgent) -> dict[str, Any]:
    """``id, url, ca_cert, tls_host, jwt, mtls`` in that order, all six always present."""
    jwt = (
        {"private_key": base64.b64encode(agent.private_key).decode("ascii")} if agent.private_key is not None else None
    )
    mtls = (
        {"client_key": _text(agent.client_key), "client_cert": _text(agent.client_cert)}
        if agent.client_key is not None
        else None
    )
    return {
        "id": agent.agent_id,
        "url": agent.url,
        "ca_cert": _text(agent.ca_cert),
        "tls_host": agent.tls_host,
        "jwt": jwt,
        "mtls": mtls,
    }


def receptive_agents(agents: list[ReceptiveAgent]) -> dict[str, Any]:
    return {"agents": [receptive_agent(agent) for agent in agents]}
