"""Receptive agents: the URL configurations of an agent (SPEC §4)."""

from __future__ import annotations

from typing import TypeVar

from cluster_agents.domain.url_configurations import UrlConfigurationRequest
from cluster_agents.services import url_configurations as service
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.params import Params, PathId, parse
from cluster_agents.web.request import current
from cluster_agents.web.url_configuration_entities import url_configuration

app = create_app()

BASE = "/api/v4/projects/<id>/cluster_agents/<agent_id>/url_configurations"
M = TypeVar("M", bound=Params)
PATH_IDS = ("agent_id", "url_configuration_id")


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


@app.get(BASE)
def handle_list_url_configurations(id: str, agent_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    path = _inputs(AgentPath)
    found = service.list_url_configurations(caller, _project(), path.agent_id)
    return respond([url_configuration(configuration) for configuration in found])


@app.get(f"{BASE}/<url_configuration_id>")
def handle_get_url_configuration(id: str, agent_id: str, url_configuration_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    path = _inputs(UrlConfigurationPath)
    configuration = service.get_url_configuration(caller, _project(), path.agent_id, path.url_configuration_id)
    return respond(url_configuration(configuration))


@app.post(BASE)
def handle_create_url_configuration(id: str, agent_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    params = _inputs(NewUrlConfiguration)
    request = UrlConfigurationRequest(url=params.url, client_cert=params.client_cert, client_key=params.client_key,
                                      ca_cert=params.ca_cert, tls_host=params.tls_host)
    return respond(url_configuration(service.create_url_configuration(caller, _project(), params.agent_id, request)),
                   201)


@app.delete(f"{BASE}/<url_configuration_id>")
def handle_delete_url_configuration(id: str, agent_id: str, url_configuration_id: str):
    caller = current_user().user
    service.ensure_receptive_agents_enabled()
    path = _inputs(UrlConfigurationPath)
    service.delete_url_configuration(caller, _project(), path.agent_id, path.url_configuration_id,
                                     current().header("if-unmodified-since"))
    return no_content()


lambda_handler = entrypoint(app)
