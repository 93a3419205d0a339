"""Settings from the environment: required names, booleans as pydantic read them, read on first use."""

from __future__ import annotations

import pytest
from cluster_agents.settings import Settings, SettingsError

REQUIRED = {"DIRECTORY_TABLE": "d", "AGENTS_TABLE": "a", "TOKEN_DIGEST_KEY_ID": "k1", "DATA_KEY_ID": "k2"}


@pytest.fixture
def environment(monkeypatch):
    for name in [*REQUIRED, "RECEPTIVE_AGENTS_ENABLED", "REVISION", "EXTERNAL_URL"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_the_environment_names_each_setting(environment):
    environment.setenv("EXTERNAL_URL", "https://gitlab.example.com")
    settings = Settings.from_environment()
    assert (settings.directory_table, settings.agents_table, settings.external_url) == (
        "d",
        "a",
        "https://gitlab.example.com",
    )
    assert settings.receptive_agents_enabled is True and settings.revision == "cluster-agents-api"


@pytest.mark.parametrize(
    ("text", "expected"), [("true", True), ("False", False), ("0", False), ("yes", True), (" off ", False)]
)
def test_booleans_read_as_pydantic_reads_them(environment, text, expected):
    environment.setenv("RECEPTIVE_AGENTS_ENABLED", text)
    assert Settings.from_environment().receptive_agents_enabled is expected


def test_a_missing_or_empty_table_or_key_or_a_bad_boolean_is_refused(environment):
    environment.setenv("AGENTS_TABLE", "")
    environment.delenv("DATA_KEY_ID")
    with pytest.raises(SettingsError, match="AGENTS_TABLE, DATA_KEY_ID"):
        Settings.from_environment()
    environment.setenv("AGENTS_TABLE", "a")
    environment.setenv("DATA_KEY_ID", "k2")
    environment.setenv("RECEPTIVE_AGENTS_ENABLED", "maybe")
    with pytest.raises(SettingsError):
        Settings.from_environment()


def test_an_empty_revision_keeps_the_default(environment):
    environment.setenv("REVISION", "")
    assert Settings.from_environment().revision == "cluster-agents-api"
