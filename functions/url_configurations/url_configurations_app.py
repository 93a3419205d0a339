"""Receptive agents: the URL configurations of an agent (SPEC §4)."""

from __future__ import annotations

from typing import TypeVar

from cluster_agents import errors as e
from cluster_agents.domain.url_configurations import UrlConfigurationRequest
from cluster_agents.services import url_configurations as service
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.params import Params, PathId, parse
from cluster_agents.web.request import current
from cluster_agents.web.url_configuration_entities import url_configuration

app = create_app()

BASE = "/api/v4/projects/<id>/cluster_agents/<agent_id>/url_configurations"
M = TypeVar("M", bound=Params)
PATH_IDS = ("agent_id", "url_configuration_id")
TAGS = ["url configurations"]
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


class AgentPath(Params):
    agent_id: PathId


class UrlConfigurationPath(Params):
    agent_id: PathId
    url_configuration_id: PathId


class NewUrlConfiguration(Params):
    agent_id: PathId
    url: str
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    tls_host: str | None = None


def _inputs(model: type[M]) -> M:
    """Path ids and parameters in one model, so every problem is reported at once, in Grape's
    order (``agent_id is invalid, url is missing``)."""
    request = current()
    ids = {name: request.path_param(name) for name in PATH_IDS if name in model.model_fields}
    return parse(model, extra=ids)


def _project() -> str:
    return current().path_param("id")


@app.get(
    BASE,
    summary="List an agent's URL configurations",
    tags=TAGS,
    security=docs.USER_SECURITY,
    description="Developer role or above. None or one; not paginated.",
    responses=docs.responses(200, COMMON),
)
def handle_list_url_configurations(id: str, agent_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    path = _inputs(AgentPath)
    found = service.list_url_configurations(caller, _project(), path.agent_id)
    return respond([url_configuration(configuration) for configuration in found])


@app.get(
    f"{BASE}/<url_configuration_id>",
    summary="Get a URL configuration",
    tags=TAGS,
    security=docs.USER_SECURITY,
    description="Developer role or above.",
    responses=docs.responses(200, COMMON, e.UrlConfigurationNotFound()),
)
def handle_get_url_configuration(id: str, agent_id: str, url_configuration_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    path = _inputs(UrlConfigurationPath)
    configuration = service.get_url_configuration(caller, _project(), path.agent_id, path.url_configuration_id)
    return respond(url_configuration(configuration))


@app.post(
    BASE,
    summary="Create the agent's URL configuration (receptive agent)",
    tags=TAGS,
    security=docs.USER_SECURITY,
    openapi_extensions=docs.body(NewUrlConfiguration),
    description="Maintainer role or above. One per agent. Without client_key an Ed25519 key pair is "
    "generated (public_key); with it, mTLS (client_cert required).",
    responses=docs.responses(
        201,
        COMMON,
        e.InvalidParameters(["url is missing"]),
        e.UrlConfigurationExists(),
        e.ValidationFailed(["Url is not a valid URL"]),
    ),
)
def handle_create_url_configuration(id: str, agent_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    params = _inputs(NewUrlConfiguration)
    request = UrlConfigurationRequest(
        url=params.url,
        client_cert=params.client_cert,
        client_key=params.client_key,
        ca_cert=params.ca_cert,
        tls_host=params.tls_host,
    )
    return respond(
        url_configuration(service.create_url_configuration(caller, _project(), params.agent_id, request)), 201
    )


@app.delete(
    f"{BASE}/<url_configuration_id>",
    summary="Delete a URL configuration",
    tags=TAGS,
    security=docs.USER_SECURITY,
    description="Maintainer role or above; honours If-Unmodified-Since.",
    responses=docs.responses(204, COMMON, e.UrlConfigurationNotFound(), e.PreconditionFailed()),
)
def handle_delete_url_configuration(id: str, agent_id: str, url_configuration_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    path = _inputs(UrlConfigurationPath)
    service.delete_url_configuration(
        caller, _project(), path.agent_id, path.url_configuration_id, current().header("if-unmodified-since")
    )
    return no_content()


lambda_handler = entrypoint(app)
