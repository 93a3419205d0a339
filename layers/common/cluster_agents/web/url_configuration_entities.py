"""GitLab's ``Entities::Clusters::AgentUrlConfiguration``: all seven fields, unset ones null,
certificates and the public key as strict base64 (no line breaks). Never the private key."""

from __future__ import annotations

import base64
from typing import Any

from cluster_agents.domain.url_configurations import UrlConfiguration
from cluster_agents.web.entity import Entity


class UrlConfigurationEntity(Entity):
    id: int
    agent_id: int
    url: str
    public_key: str | None
    client_cert: str | None
    ca_cert: str | None
    tls_host: str | None


def _strict_base64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def url_configuration(configuration: UrlConfiguration) -> dict[str, Any]:
    return {
        "id": configuration.id,
        "agent_id": configuration.agent_id,
        "url": configuration.url,
        "public_key": _strict_base64(configuration.public_key),
        "client_cert": _strict_base64(configuration.client_cert),
        "ca_cert": _strict_base64(configuration.ca_cert),
        "tls_host": configuration.tls_host,
    }
