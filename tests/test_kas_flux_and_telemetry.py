"""The rest of the agent server's internal API: ``verify_project_access`` for its Flux module
(SPEC §7.6), and the usage metrics and agent events it reports (SPEC §7.5)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from testkit.client import NOT_FOUND_BODY, ApiClient
from tests.test_kas import KAS_INVALID, UNAUTHORIZED, create_agent, create_token, kas_headers, kas_jwt

VERIFY = "/internal/kubernetes/verify_project_access"
USAGE = "/internal/kubernetes/usage_metrics"
EVENTS_PATH = "/internal/kubernetes/agent_events"
NOT_FOUND = {"message": "404 Not Found"}
EVENTS = Path(__file__).resolve().parent.parent / "events" / "kas"


# ---------------------------------------------------------------- verify_project_access
@pytest.fixture
def flux(world, api):
    """An agent of a private project, a public project, a private and an internal one in the same
    group, and a private project the agent has ci_access to."""
    group = world.group("fleet", visibility="public")
    home = world.project("Kube-Config", namespace_id=group["id"])
    public = world.project("website", namespace_id=group["id"], visibility="public")
    private = world.project("secrets", namespace_id=group["id"])
    internal = world.project("intranet", namespace_id=group["id"], visibility="internal")
    agent = create_agent(api, home["id"], "flux")
    token = create_token(api, home["id"], agent["id"])["token"]
    return {"home": home, "public": public, "private": private, "internal": internal, "agent": agent, "token": token}


def verify(project_ref, token: str | None, header: str = "Gitlab-Agentk-Api-Request", **kwargs):
    params = {"id": project_ref} if project_ref is not None else None
    return ApiClient().get(VERIFY, params=params, headers=kas_headers(token, header), **kwargs)


def test_the_agents_own_project_and_public_projects_are_readable(flux):
    home, public = flux["home"], flux["public"]
    for ref in (home["id"], "fleet/kube-config", "FLEET/Kube-Config", public["id"], "fleet/website", "Fleet/WebSite"):
        response = verify(ref, flux["token"])
        assert (response.status, response.text) == (204, ""), ref


def test_private_internal_unknown_or_missing_projects_are_404(flux):
    for ref in (
        flux["private"]["id"],
        "fleet/secrets",
        flux["internal"]["id"],
        "fleet/intranet",
        999999,
        "fleet/nothing",
        "website",
        "",
        "abc",
        None,
    ):
        response = verify(ref, flux["token"])
        assert (response.status, response.json()) == (404, NOT_FOUND), ref


def test_ci_access_does_not_count(flux):
    from tests.test_kas import configure

    assert (
        configure(
            flux["agent"]["id"], {"ci_access": {"projects": [{"id": "fleet/secrets"}], "groups": [{"id": "fleet"}]}}
        ).status
        == 204
    )
    response = verify("fleet/secrets", flux["token"])
    assert (response.status, response.json()) == (404, NOT_FOUND)


def test_the_jwt_then_the_agent_token_in_the_headers_kas_uses(flux, api):
    response = ApiClient().get(
        VERIFY, params={"id": "fleet/website"}, headers={"Gitlab-Agentk-Api-Request": flux["token"]}
    )
    assert (response.status, response.json()) == (401, KAS_INVALID)
    response = ApiClient().get(
        VERIFY,
        params={"id": "fleet/website"},
        headers={"Gitlab-Kas-Api-Request": kas_jwt(secret=b"x" * 32), "Gitlab-Agentk-Api-Request": flux["token"]},
    )
    assert (response.status, response.json()) == (401, KAS_INVALID)
    for token in (None, "", "glagent-unknown"):
        response = verify("fleet/website", token)
        assert (response.status, response.json()) == (401, UNAUTHORIZED), token
    response = verify("fleet/secrets", "glagent-unknown")  # 401 before 404
    assert (response.status, response.json()) == (401, UNAUTHORIZED)
    for header in ("Gitlab-Agentk-Api-Request", "Gitlab-Agent-Api-Request", "Authorization"):
        assert verify("fleet/website", flux["token"], header).status == 204, header
    headers = {**kas_headers(flux["token"], "Authorization"), "Gitlab-Agentk-Api-Request": "glagent-wrong"}
    response = ApiClient().get(VERIFY, params={"id": "fleet/website"}, headers=headers)
    assert (response.status, response.json()) == (401, UNAUTHORIZED)  # a present agentk header decides
    home, agent = flux["home"], flux["agent"]
    assert api.delete(f"/projects/{home['id']}/cluster_agents/{agent['id']}").status == 204
    response = verify("fleet/website", flux["token"])
    assert (response.status, response.json()) == (401, UNAUTHORIZED)


def test_success_records_the_tokens_use(flux, api):
    path = f"/projects/{flux['home']['id']}/cluster_agents/{flux['agent']['id']}/tokens"
    (token,) = api.get(path).json()
    assert api.get(f"{path}/{token['id']}").json()["last_used_at"] is None
    assert verify("fleet/secrets", flux["token"]).status == 404  # authenticated: a use, too (as GitLab)
    assert api.get(f"{path}/{token['id']}").json()["last_used_at"] is not None


def test_project_info_is_not_served(flux):
    response = ApiClient().get(
        "/internal/kubernetes/project_info",
        params={"id": "fleet/website"},
        headers=kas_headers(flux["token"], "Gitlab-Agentk-Api-Request"),
    )
    assert (response.status, response.json()) == (404, NOT_FOUND_BODY)


# ---------------------------------------------------------------- usage_metrics
def post(path: str, body=None, headers: dict[str, str] | None = None, **kwargs):
    return ApiClient().post(path, json_body=body, headers=kas_headers() if headers is None else headers, **kwargs)


FULL_METRICS = {
    "counters": {
        "k8s_api_proxy_request": 5,
        "flux_git_push_notifications_total": "7",
        "k8s_api_proxy_requests_via_ci_access": 0,
        "k8s_api_proxy_requests_via_user_access": -3,
        "k8s_api_proxy_requests_via_pat_access": None,
        "unknown_counter": "x",
    },
    "unique_counters": {
        "k8s_api_proxy_requests_unique_users_via_ci_access": [1, 2, "3"],
        "k8s_api_proxy_requests_unique_agents_via_ci_access": [],
        "flux_git_push_notified_unique_projects": [4, None, ""],
        "unknown": {"x": 1},
    },
    "extra": True,
}


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        FULL_METRICS,
        {"counters": None, "unique_counters": None},
        {"counters": {}, "unique_counters": {}},
        {"counters": {"k8s_api_proxy_request": ""}},
    ],
)
def test_usage_metrics_are_accepted_and_discarded(aws, body):
    response = post(USAGE, body)
    assert (response.status, response.text) == (204, ""), body


def test_usage_metrics_as_form_parameters(aws):
    response = ApiClient().post(USAGE, data={"counters[k8s_api_proxy_request]": "12"}, headers=kas_headers())
    assert response.status == 204
    response = ApiClient().post(USAGE, data={"counters[k8s_api_proxy_request]": "1.5"}, headers=kas_headers())
    assert (response.status, response.json()) == (400, {"error": "counters[k8s_api_proxy_request] is invalid"})


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"counters": 5}, "counters is invalid"),
        ({"counters": [1]}, "counters is invalid"),
        ({"counters": "x"}, "counters is invalid"),
        ({"unique_counters": [1]}, "unique_counters is invalid"),
        ({"counters": 1, "unique_counters": True}, "counters is invalid, unique_counters is invalid"),
        ({"counters": {"k8s_api_proxy_request": True}}, "counters[k8s_api_proxy_request] is invalid"),
        ({"counters": {"k8s_api_proxy_request": 1.5}}, "counters[k8s_api_proxy_request] is invalid"),
        ({"counters": {"k8s_api_proxy_request": "1.5"}}, "counters[k8s_api_proxy_request] is invalid"),
        ({"counters": {"k8s_api_proxy_request": {}}}, "counters[k8s_api_proxy_request] is invalid"),
        ({"counters": {"k8s_api_proxy_request": "abc"}}, "counters[k8s_api_proxy_request] is invalid"),
        (
            {"counters": {"k8s_api_proxy_requests_via_pat_access": [], "k8s_api_proxy_request": "x"}},
            "counters[k8s_api_proxy_request] is invalid, counters[k8s_api_proxy_requests_via_pat_access] is invalid",
        ),
        (
            {"unique_counters": {"flux_git_push_notified_unique_projects": 5}},
            "unique_counters[flux_git_push_notified_unique_projects] is invalid",
        ),
        (
            {"unique_counters": {"flux_git_push_notified_unique_projects": [1, "a"]}},
            "unique_counters[flux_git_push_notified_unique_projects] is invalid",
        ),
        (
            {
                "unique_counters": {
                    "flux_git_push_notified_unique_projects": [True],
                    "k8s_api_proxy_requests_unique_users_via_ci_access": [1.5],
                },
                "counters": {"flux_git_push_notifications_total": False},
            },
            "counters[flux_git_push_notifications_total] is invalid, "
            "unique_counters[k8s_api_proxy_requests_unique_users_via_ci_access] is invalid, "
            "unique_counters[flux_git_push_notified_unique_projects] is invalid",
        ),
    ],
)
def test_usage_metrics_validation_messages(aws, body, error):
    response = post(USAGE, body)
    assert (response.status, response.json()) == (400, {"error": error})


# ---------------------------------------------------------------- agent_events
USER_EVENTS = (
    "k8s_api_proxy_requests_unique_users_via_ci_access",
    "k8s_api_proxy_requests_unique_users_via_user_access",
    "k8s_api_proxy_requests_unique_users_via_pat_access",
)
REGISTER = {
    "project_id": 1,
    "agent_version": "v18.0.0",
    "architecture": "arm64",
    "agent_id": "2",
    "kubernetes_version": "1.31",
    "extra_telemetry_data": {"installation_method": "helm", "helm_chart_version": "2.1.0"},
}


@pytest.mark.parametrize(
    "body",
    [
        None,
        {},
        {"events": None},
        {"events": {}},
        {"events": {name: [{"user_id": 1, "project_id": "2"}, {}, None] for name in USER_EVENTS}},
        {
            "events": {
                "register_agent_at_kas": [REGISTER, {"agent_version": 18}, {"extra_telemetry_data": None}],
                "unknown": 5,
            }
        },
        {"events": {name: [] for name in (*USER_EVENTS, "register_agent_at_kas")}},
        {"events": {USER_EVENTS[0]: [{"user_id": 999999999, "project_id": 888888888}]}},
    ],
)
def test_agent_events_are_accepted_and_discarded(aws, body):
    response = post(EVENTS_PATH, body)
    assert (response.status, response.text) == (204, ""), body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"events": []}, "events is invalid"),
        ({"events": "x"}, "events is invalid"),
        ({"events": {"register_agent_at_kas": {}}}, "events[register_agent_at_kas] is invalid"),
        ({"events": {USER_EVENTS[0]: [{"user_id": "me"}]}}, f"events[{USER_EVENTS[0]}][0][user_id] is invalid"),
        (
            {"events": {USER_EVENTS[0]: [{"user_id": 1}, {"user_id": True, "project_id": 1.5}, {"user_id": {}}]}},
            f"events[{USER_EVENTS[0]}][1][user_id] is invalid, events[{USER_EVENTS[0]}][2][user_id] is invalid, "
            f"events[{USER_EVENTS[0]}][1][project_id] is invalid",
        ),
        (
            {"events": {USER_EVENTS[2]: "x", USER_EVENTS[1]: [{"project_id": "p"}]}},
            f"events[{USER_EVENTS[1]}][0][project_id] is invalid, events[{USER_EVENTS[2]}] is invalid",
        ),
        (
            {
                "events": {
                    "register_agent_at_kas": [
                        {"agent_version": {}, "agent_id": "x", "extra_telemetry_data": {"helm_chart_version": ["2"]}}
                    ]
                }
            },
            "events[register_agent_at_kas][0][agent_version] is invalid, events[register_agent_at_kas][0][agent_id] is "
            "invalid, events[register_agent_at_kas][0][extra_telemetry_data][helm_chart_version] is invalid",
        ),
        (
            {"events": {"register_agent_at_kas": [{"extra_telemetry_data": "helm"}]}},
            "events[register_agent_at_kas][0][extra_telemetry_data] is invalid",
        ),
        (
            {"events": {USER_EVENTS[0]: [5]}},
            f"events[{USER_EVENTS[0]}][0][user_id] is invalid, events[{USER_EVENTS[0]}][0][project_id] is invalid",
        ),
    ],
)
def test_agent_events_validation_messages(aws, body, error):
    response = post(EVENTS_PATH, body)
    assert (response.status, response.json()) == (400, {"error": error})


@pytest.mark.parametrize("path", [USAGE, EVENTS_PATH])
def test_only_the_kas_jwt_and_before_the_body(aws, path):
    for headers in ({}, {"Gitlab-Kas-Api-Request": kas_jwt(secret=b"x" * 32)}):
        response = post(path, {"counters": 5, "events": 5}, headers=headers)
        assert (response.status, response.json()) == (401, KAS_INVALID)
    response = ApiClient().post(path, raw_body="{", headers={**kas_headers(), "Content-Type": "application/json"})
    assert response.status == 400
    assert post(path, {}, headers=kas_headers("glagent-not-needed")).status == 204


# ---------------------------------------------------------------- sample events
def _invoke(name: str, query: dict[str, str] | None = None, **changes) -> dict:
    from devtools.apigw import LambdaContext

    event = json.loads((EVENTS / f"{name}.json").read_text())
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {key: [value] for key, value in query.items()}
    module = importlib.import_module("kas_app")
    assert module.lambda_handler(event, LambdaContext("KasFunction"))["statusCode"] == 401  # the JWT is stale
    for headers in (event["headers"], event["multiValueHeaders"]):
        for key, value in {"Gitlab-Kas-Api-Request": kas_jwt(), **changes}.items():
            headers[key] = value if headers is event["headers"] else [value]
    return module.lambda_handler(event, LambdaContext("KasFunction"))


def test_sample_events(flux):
    assert _invoke("PostUsageMetrics")["statusCode"] == 204
    assert _invoke("PostAgentEvents")["statusCode"] == 204
    verified = _invoke("VerifyProjectAccess", {"id": "fleet/website"}, **{"Gitlab-Agentk-Api-Request": flux["token"]})
    assert verified["statusCode"] == 204
