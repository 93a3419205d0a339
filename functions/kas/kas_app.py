"""The agent server's internal API (SPEC §7): agent info for an agent token (both paths KAS
uses), the agent's configuration, user access through an agent, project access for Flux, usage
metrics and agent events. Every route needs the agent server's JWT first. (Receptive agents:
functions/kas_receptive.)"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from cluster_agents import errors as e
from cluster_agents.services import agent_server as kas
from cluster_agents.services import user_access as proxy
from cluster_agents.web import agent_server_entities as kas_entities
from cluster_agents.web import guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.agent_server_auth import agent_token
from cluster_agents.web.agent_server_entities import AgentInfoBody, ProxyAuthorizationBody
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.params import Params, empty_value
from cluster_agents.web.request import current
from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

app = create_app()
TAGS = ["agent server (internal)"]
AGENT_INFO = docs.responses(200, docs.KAS, e.Unauthenticated(), model=AgentInfoBody)
AGENT_INFO_DESCRIPTION = (
    "For the agent server: the agent behind the agent token (Gitlab-Agentk-Api-Request; "
    "when absent Gitlab-Agent-Api-Request; when neither is present Authorization: Bearer), "
    "after the Gitlab-Kas-Api-Request JWT. Records the token's use."
)


class AgentConfiguration(Params):
    agent_id: int
    agent_config: dict[str, Any]  # the agent's config.yaml as JSON (an object, or a string holding one)

    @field_validator("agent_id", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("not an integer")
        return value

    @field_validator("agent_config", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except (ValueError, RecursionError):
                raise ValueError("not JSON") from None
        return value


def _documented_as_string(schema: dict[str, Any]) -> None:
    schema.pop("default", None)
    schema["type"] = "string"


class _Absent:
    """``csrf_token`` not sent at all (a request can send ``null``, never this)."""


ABSENT: Any = _Absent()


class AuthorizeProxyUser(Params):
    agent_id: int
    access_type: Literal["session_cookie", "personal_access_token"]
    access_key: str
    # Grape's ``given``: required and not blank when access_type is session_cookie, else ignored.
    csrf_token: Any = Field(
        default_factory=lambda: ABSENT,
        validate_default=True,
        description="Required, not blank, when access_type is session_cookie",
        json_schema_extra=_documented_as_string,
    )

    @field_validator("agent_id", mode="before")
    @classmethod
    def _integer(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("not an integer")
        return value

    @field_validator("csrf_token", mode="before")
    @classmethod
    def _given_session_cookie(cls, value: Any, info: ValidationInfo) -> Any:
        if info.data.get("access_type") != proxy.SESSION_COOKIE:
            return None
        if value is ABSENT:
            raise PydanticCustomError("missing", "Field required")
        if isinstance(value, dict | list | bool):
            raise ValueError("not a string")
        if value is None or not str(value).strip():
            raise empty_value()
        return value


def _agent_info():
    return respond(kas_entities.agent_info(kas.agent_info(agent_token())))


@app.get(
    "/api/v4/internal/kubernetes/agent_info",
    summary="Agent info for an agent token",
    tags=TAGS,
    description=AGENT_INFO_DESCRIPTION,
    security=docs.AGENT_SECURITY,
    middlewares=[guards.KAS],
    responses=AGENT_INFO,
)
def handle_get_agent_info():
    return _agent_info()


@app.get(
    "/api/v4/internal/agents/agentk/agent_info",
    summary="Agent info for an agent token (newer path)",
    tags=TAGS,
    description=AGENT_INFO_DESCRIPTION,
    security=docs.AGENT_SECURITY,
    middlewares=[guards.KAS],
    responses=AGENT_INFO,
)
def handle_get_agentk_agent_info():
    return _agent_info()


@app.post(
    "/api/v4/internal/kubernetes/agent_configuration",
    summary="Store an agent's configuration (ci_access)",
    tags=TAGS,
    description="For the agent server, after the Gitlab-Kas-Api-Request JWT: the agent's "
    "config.yaml as JSON; its ci_access entries replace the agent's authorisations. "
    "Every agent's authorisation of one project or group is kept together, in at "
    "most 400 KB: an entry that would not fit is a 400 naming that project or group.",
    security=docs.KAS_SECURITY,
    middlewares=[guards.KAS],
    responses=docs.responses(
        204,
        docs.KAS,
        docs.BODY,
        e.InvalidParameters(["agent_id is missing"]),
        e.InvalidParameters(["agent_config is invalid"]),
        e.CiAccessTooLarge([("group", 7)], {("group", 7): "acme/team"}),
        e.AgentNotFound(),
    ),
)
def handle_post_agent_configuration(params: Annotated[AgentConfiguration, typed.Body()]):
    kas.configure_agent(params.agent_id, params.agent_config)
    return no_content()


@app.post(
    "/api/v4/internal/kubernetes/authorize_proxy_user",
    summary="Authorize a user through an agent",
    tags=TAGS,
    description="For the agent server, after the Gitlab-Kas-Api-Request JWT: whether the user "
    "behind a personal access token with the k8s_proxy scope may reach the cluster "
    "through the agent (its user_access configuration), and as whom. Records the "
    "token's use. A session cookie matches no session here (there are no web "
    "sessions): 401.",
    security=docs.KAS_SECURITY,
    middlewares=[guards.KAS],
    responses=docs.responses(
        201,
        docs.KAS,
        docs.BODY,
        e.InvalidParameters(["agent_id is missing", "access_type is missing", "access_key is missing"]),
        e.InvalidParameters(["agent_id is invalid"]),
        e.InvalidParameters(["access_type does not have a valid value"]),
        e.InvalidParameters(["csrf_token is missing"]),
        e.InvalidParameters(["csrf_token is empty"]),
        e.UserNotIdentified(),
        e.InvalidSession(),
        e.TokenExpired(),
        e.TokenRevoked(),
        e.Unauthenticated(),
        e.ProxyScopeMissing(),
        e.AgentNotFound(),
        *(e.UserAccessRefused(message) for message in proxy.REFUSALS),
        e.Forbidden(),
        model=ProxyAuthorizationBody,
    ),
)
def handle_post_authorize_proxy_user(params: Annotated[AuthorizeProxyUser, typed.Body()]):
    found = proxy.authorize_proxy_user(params.agent_id, params.access_type, params.access_key)
    return respond(kas_entities.proxy_authorization(found), 201)


@app.get(
    "/api/v4/internal/kubernetes/verify_project_access",
    summary="Whether an agent may read a project",
    tags=TAGS,
    security=docs.AGENT_SECURITY,
    middlewares=[guards.KAS],
    description="For the agent server (Flux), after the Gitlab-Kas-Api-Request JWT and the agent token: "
    "204 when the project (`id`: its id or full path, any case) is public or is the agent's own "
    "configuration project; otherwise 404. Records the token's use.",
    responses=docs.responses(204, docs.KAS, docs.BODY, e.Unauthenticated(), e.ProjectAccessNotFound()),
)
def handle_get_verify_project_access(id: typed.ProjectAccessRef = None):
    kas.verify_project_access(agent_token(), id)
    return no_content()


@app.post(
    "/api/v4/internal/kubernetes/usage_metrics",
    summary="Usage metrics of the agent server",
    tags=TAGS,
    security=docs.KAS_SECURITY,
    middlewares=[guards.KAS],
    description="For the agent server, after the Gitlab-Kas-Api-Request JWT: optional `counters` (integers) "
    "and `unique_counters` (arrays of integers), validated as GitLab validates them and then "
    "discarded (no product analytics here). An empty body is valid.",
    responses=docs.responses(
        204,
        docs.KAS,
        docs.BODY,
        e.InvalidParameters(["counters is invalid"]),
        e.InvalidParameters(["counters[k8s_api_proxy_request] is invalid"]),
    ),
)
def handle_post_usage_metrics():
    kas.accept_usage_metrics(current().params())
    return no_content()


@app.post(
    "/api/v4/internal/kubernetes/agent_events",
    summary="Agent events from the agent server",
    tags=TAGS,
    security=docs.KAS_SECURITY,
    middlewares=[guards.KAS],
    description="For the agent server, after the Gitlab-Kas-Api-Request JWT: an optional `events` object "
    "of event arrays, validated as GitLab validates them and then discarded. An empty body is "
    "valid.",
    responses=docs.responses(
        204,
        docs.KAS,
        docs.BODY,
        e.InvalidParameters(["events is invalid"]),
        e.InvalidParameters(["events[k8s_api_proxy_requests_unique_users_via_ci_access][0][user_id] is invalid"]),
    ),
)
def handle_post_agent_events():
    kas.accept_agent_events(current().params())
    return no_content()


lambda_handler = entrypoint(app)
