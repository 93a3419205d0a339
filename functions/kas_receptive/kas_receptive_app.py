"""The agent server's list of receptive agents (SPEC §7.3), with the private material it needs to
reach them: the only route that decrypts stored keys, so it is a function of its own, the only one
granted ``kms:Decrypt`` on the data key. Its response bodies are never logged (nothing is)."""

from __future__ import annotations

from cluster_agents import errors as e
from cluster_agents.services.receptive_agents import list_receptive_agents
from cluster_agents.web import guards
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import create_app, entrypoint, respond
from cluster_agents.web.receptive_agent_entities import ReceptiveAgentsBody, receptive_agents

app = create_app()
TAGS = ["agent server (internal)"]


@app.get(
    "/api/v4/internal/kubernetes/receptive_agents",
    summary="Receptive agents for the agent server",
    tags=TAGS,
    security=docs.KAS_SECURITY,
    middlewares=[guards.KAS],
    description="For the agent server, after the Gitlab-Kas-Api-Request JWT: every agent with a URL "
    "configuration, in agent id order, with what the agent server needs to connect to it - "
    "the CA certificate and the client certificate and key as PEM text, or the base64 "
    "Ed25519 private key it signs its JWTs with. 404 when receptive agents are turned off.",
    responses=docs.responses(200, docs.KAS, e.FeatureDisabled(), model=ReceptiveAgentsBody),
)
def handle_get_receptive_agents():
    return respond(receptive_agents(list_receptive_agents()))


lambda_handler = entrypoint(app)
