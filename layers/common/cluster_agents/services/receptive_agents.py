"""Receptive agents for the agent server (SPEC §7.3): every URL configuration, with the private
material it needs to reach the agent. The only use case that decrypts stored private material;
it runs in a function of its own, the only one allowed ``kms:Decrypt`` on the data key."""

from __future__ import annotations

from cluster_agents.domain.url_configurations import ReceptiveAgent
from cluster_agents.services.url_configurations import ensure_receptive_agents_enabled
from cluster_agents.store.url_configurations import url_configurations


def list_receptive_agents() -> list[ReceptiveAgent]:
    """Every receptive agent, in agent id order; 404 (FeatureDisabled) when the instance setting
    is off (the stored configurations stay). A warm container reads the receptive-agents index's
    generation alone while nothing changed, and the index (never the agents or projects stored)
    once after a change."""
    ensure_receptive_agents_enabled()
    return url_configurations().list_receptive()
