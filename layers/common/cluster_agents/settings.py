"""Settings, validated from the environment on first use (never at import time).

A plain frozen dataclass rather than a pydantic model: building a model class is a tenth of a
handler's import, and these few strings need no more than the checks below."""

from __future__ import annotations

import dataclasses
import functools
import os

_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_REQUIRED = ("directory_table", "agents_table", "token_digest_key_id", "data_key_id")


class SettingsError(ValueError):
    """The environment is missing a setting or holds an invalid one (a deployment error)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    directory_table: str
    agents_table: str
    token_digest_key_id: str
    data_key_id: str
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
        names = [field.name for field in dataclasses.fields(cls)]
        values: dict[str, object] = {name: os.environ[name.upper()] for name in names if name.upper() in os.environ}
        if not values.get("revision"):  # a stack deployed without its commit id (Revision empty)
            values.pop("revision", None)
        problems = [name.upper() for name in _REQUIRED if not values.get(name)]
        if problems:
            raise SettingsError(f"missing or empty: {', '.join(problems)}")
        if "receptive_agents_enabled" in values:
            values["receptive_agents_enabled"] = _boolean(str(values["receptive_agents_enabled"]))
        return cls(**values)  # type: ignore[arg-type]


def _boolean(text: str) -> bool:
    """A boolean as pydantic reads one from a string (``true``/``false``, ``1``/``0``, ``yes``/``no``...)."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SettingsError(f"RECEPTIVE_AGENTS_ENABLED is not a boolean: {text!r}")


@functools.cache
def get_settings() -> Settings:
    return Settings.from_environment()
