"""Receptive agents: the URL configurations of an agent (SPEC §4)."""

from __future__ import annotations

from typing import Annotated

from cluster_agents import errors as e
from cluster_agents.domain.url_configurations import UrlConfigurationRequest
from cluster_agents.services import url_configurations as service
from cluster_agents.web import guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.params import Params
from cluster_agents.web.request import current
from cluster_agents.web.url_configuration_entities import UrlConfigurationEntity, url_configuration

app = create_app()

BASE = "/api/v4/projects/<id>/cluster_agents/<agent_id>/url_configurations"
TAGS = ["url configurations"]
# Before the parameters: the caller, then the instance setting (SPEC §4).
GUARDS = [guards.USER, guards.guard(service.ensure_receptive_agents_enabled, "receptive_agents_enabled")]
# Every route: the instance setting (right after authentication), the path ids, the project, the role, the agent.
COMMON = (
    docs.USER,
    e.FeatureDisabled(),
    e.InvalidParameters(["agent_id is invalid"]),
    e.InvalidParameters(["url_configuration_id is invalid"]),
    docs.PROJECT,
    docs.FORBIDDEN,
    e.AgentNotFound(),
)


class NewUrlConfiguration(Params):
    url: str
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    tls_host: str | None = None


@app.get(
    BASE,
    summary="List an agent's URL configurations",
    tags=TAGS,
    security=docs.USER_SECURITY,
    description="Developer role or above. None or one; not paginated.",
    middlewares=GUARDS,
    responses=docs.responses(200, COMMON, model=list[UrlConfigurationEntity]),
)
def handle_list_url_configurations(id: typed.ProjectRef, agent_id: typed.AgentId):
    found = service.list_url_configurations(current_user().user, id, agent_id)
    return respond([url_configuration(configuration) for configuration in found])


@app.get(
    f"{BASE}/<url_configuration_id>",
    summary="Get a URL configuration",
    tags=TAGS,
    security=docs.USER_SECURITY,
    description="Developer role or above.",
    middlewares=GUARDS,
    responses=docs.responses(200, COMMON, e.UrlConfigurationNotFound(), model=UrlConfigurationEntity),
)
def handle_get_url_configuration(
    id: typed.ProjectRef, agent_id: typed.AgentId, url_configuration_id: typed.UrlConfigurationId
):
    configuration = service.get_url_configuration(current_user().user, id, agent_id, url_configuration_id)
    return respond(url_configuration(configuration))


@app.post(
    BASE,
    summary="Create the agent's URL configuration (receptive agent)",
    tags=TAGS,
    security=docs.USER_SECURITY,
    middlewares=GUARDS,
    description="Maintainer role or above. One per agent. Without client_key an Ed25519 key pair is "
    "generated (public_key); with it, mTLS (client_cert required).",
    responses=docs.responses(
        201,
        COMMON,
        e.InvalidParameters(["url is missing"]),
        e.UrlConfigurationExists(),
        e.ValidationFailed(["Url is not a valid URL"]),
        model=UrlConfigurationEntity,
    ),
)
def handle_create_url_configuration(
    id: typed.ProjectRef, agent_id: typed.AgentId, params: Annotated[NewUrlConfiguration, typed.Body()]
):
    request = UrlConfigurationRequest(
        url=params.url,
        client_cert=params.client_cert,
        client_key=params.client_key,
        ca_cert=params.ca_cert,
        tls_host=params.tls_host,
    )
    created = service.create_url_configuration(current_user().user, id, agent_id, request)
    return respond(url_configuration(created), 201)


@app.delete(
    f"{BASE}/<url_configuration_id>",
    summary="Delete a URL configuration",
    tags=TAGS,
    security=docs.USER_SECURITY,
    description="Maintainer role or above; honours If-Unmodified-Since.",
    middlewares=GUARDS,
    responses=docs.responses(204, COMMON, e.UrlConfigurationNotFound(), e.PreconditionFailed()),
)
def handle_delete_url_configuration(
    id: typed.ProjectRef, agent_id: typed.AgentId, url_configuration_id: typed.UrlConfigurationId
):
    caller = current_user().user
    unmodified_since = current().header("if-unmodified-since")
    service.delete_url_configuration(caller, id, agent_id, url_configuration_id, unmodified_since)
    return no_content()


lambda_handler = entrypoint(app)
