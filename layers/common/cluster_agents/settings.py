"""Settings, a validated model read from the environment on first use (never at import time)."""

from __future__ import annotations

import functools
import os

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    directory_table: str = Field(min_length=1)
    agents_table: str = Field(min_length=1)
    token_digest_key_id: str = Field(min_length=1)
    data_key_id: str = Field(min_length=1)
    external_url: str = ""
    # The agent server's shared secret: base64 in KAS_SECRET (local), else read from Secrets Manager.
    kas_secret: str = ""
    kas_secret_arn: str = ""
    receptive_agents_enabled: bool = True
    # The agent server's URLs as clients reach it (GET /metadata's kas.externalUrl and
    # kas.externalK8sProxyUrl; empty: null).
    kas_external_url: str = ""
    kas_external_k8s_proxy_url: str = ""
    version: str = "17.11.0"
    revision: str = "cluster-agents-api"  # the build's commit id (REVISION) when it has one

    @classmethod
    def from_environment(cls) -> Settings:
        values = {name: os.environ[name.upper()] for name in cls.model_fields if name.upper() in os.environ}
        if not values.get("revision"):  # a stack deployed without its commit id (Revision empty)
            values.pop("revision", None)
        return cls.model_validate(values)


@functools.cache
def get_settings() -> Settings:
    return Settings.from_environment()
