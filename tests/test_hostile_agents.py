"""Hostile input on the agents, tokens, URL configuration, CI job and agent server routes:
property-based runs (hypothesis) over every validated field, plus malformed, mistyped, huge and
odd input. Whatever comes in:

- the answer is never a 5xx (clients retry those, and an expected failure is not one);
- every answer but a 204 is JSON (``Content-Type: application/json``);
- every 4xx is in GitLab's error shape: ``{"message": "..."}`` or ``{"error": "..."}``;
- what is accepted is valid: a created agent, token or URL configuration obeys the rules it was
  validated against.

The schema-driven fuzz run over the OpenAPI description is tests/test_fuzz_openapi.py."""

from __future__ import annotations

import base64
import json
import re
import time
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from testkit.client import ApiClient, Response
from testkit.kas import KAS_KEY, kas_jwt
from tests.test_url_configurations import Pki, b64, ruby_encode64

CONFIGURATION = "/internal/kubernetes/agent_configuration"
AGENT_NAME = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
HYPOTHESIS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Text a client could send (no lone surrogates: those cannot even be URL-encoded; the JSON escape
# of one is sent raw in test_lone_surrogates_are_refused).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
ODD_TEXT = st.one_of(
    TEXT,
    st.sampled_from(
        [
            "",
            " ",
            "\t\n",
            "\x00",
            "\u202e",
            "\ufeff",
            "\u200b",
            "Ω≈ç√",
            "😀" * 70,
            "a" * 64,
            "a" * 256,
            "-",
            "a-",
            "-a",
            "<script>alert(1)</script>",
            "'; DROP TABLE agents; --",
            "${jndi:ldap://x}",
            "{{7*7}}",
            "%00",
            "../..",
            "null",
            "true",
            "0",
            "-1",
            "1e309",
        ]
    ),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(TEXT.filter(lambda t: len(t) < 20), inner, max_size=4)
    ),
    max_leaves=20,
)
ANY_FIELD = st.one_of(ODD_TEXT, JSON_VALUES)
ODD_IDS = [
    "0",
    "-1",
    "+1",
    "1.0",
    "1e3",
    "0x10",
    "99999999999999999999999999",
    str(2**63),
    str(-(2**63)),
    "%2E%2E",
    "..%2F..%2Fetc%2Fpasswd",
    "%2F",
    "%252F",
    "%00",
    "%E2%80%AE1",
    "1%20OR%201%3D1",
    "a" * 2000,
    "%C0%AE%C0%AE",
    "%FF",
    "1;DROP",
    "%7B%7D",
    "null",
    "undefined",
    "NaN",
    "Infinity",
    "%20",
    "1%0A2",
]
ID_TEXT = st.one_of(
    st.sampled_from(ODD_IDS),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    TEXT.filter(bool).map(lambda t: quote(t, safe="")),
)


def assert_gitlab(response: Response, context: Any = None) -> Any:
    """No 5xx, JSON unless 204, GitLab's error shape on a 4xx; returns the body."""
    if currently_in_test_context():  # pytest --hypothesis-show-statistics: which answers the runs reached
        event(f"status {response.status}")
    assert response.status < 500, (context, response.status, response.text[:300])
    if response.status == 204:
        assert response.text == "", context
        return None
    assert response.headers.get("Content-Type") == "application/json", (context, response.headers)
    body = json.loads(response.text)
    if response.status >= 400:
        shaped = isinstance(body, dict) and (isinstance(body.get("message"), str) or isinstance(body.get("error"), str))
        assert shaped, (context, response.status, body)
    return body


@pytest.fixture
def estate(world, api):
    """root's project ``hostile`` with an agent (and an active token), a running job of root."""
    project = world.project("hostile")
    base = f"/projects/{project['id']}/cluster_agents"
    agent = api.post(base, json_body={"name": "target"}).json()
    token = api.post(f"{base}/{agent['id']}/tokens", json_body={"name": "kept"}).json()
    job = api.post("/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": 1}).json()
    return SimpleNamespace(
        project=project,
        base=base,
        agent=agent,
        token=token,
        job=job,
        tokens=f"{base}/{agent['id']}/tokens",
        configurations=f"{base}/{agent['id']}/url_configurations",
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# ---------------------------------------------------------------- agents
@HYPOTHESIS
@given(name=st.one_of(ANY_FIELD, st.from_regex(r"\A[a-z0-9][-a-z0-9]{0,70}\Z")))
def test_agent_names(api, estate, name):
    response = api.post(estate.base, json_body={"name": name})
    body = assert_gitlab(response, name)
    if response.status == 201:
        assert isinstance(name, str | int | float) and not isinstance(name, bool)
        assert AGENT_NAME.match(body["name"]) and len(body["name"]) <= 63, body
        assert api.delete(f"{estate.base}/{body['id']}").status == 204
    elif isinstance(name, str) and AGENT_NAME.match(name) and len(name) <= 63 and name != "target":
        pytest.fail(f"a valid new name was refused: {name!r} -> {response.status} {body}")


@HYPOTHESIS
@given(name=ANY_FIELD, description=st.one_of(st.none(), ANY_FIELD, st.text(min_size=1000, max_size=1100)))
def test_agent_token_fields(api, estate, name, description):
    response = api.post(estate.tokens, json_body={"name": name, "description": description})
    body = assert_gitlab(response, (name, description))
    if response.status == 201:
        assert isinstance(body["name"], str) and body["name"].strip() and len(body["name"]) <= 255, body
        assert body["description"] is None or len(body["description"]) <= 1024, body
        assert body["token"].startswith("glagent-") and len(body["token"]) == 58
        assert api.delete(f"{estate.tokens}/{body['id']}").status == 204  # keep a slot free
    else:
        assert response.status == 400, (response.status, body)


def _certificate(pki: Pki) -> st.SearchStrategy:
    pems = [pki.ca_cert, pki.client_cert, pki.client_key, pki.public_key_pem, pki.client_key_der]
    return st.one_of(
        st.none(),
        ANY_FIELD,
        st.sampled_from(pems).map(b64),
        st.sampled_from(pems).map(ruby_encode64),
        st.binary(max_size=400).map(b64),
        st.sampled_from(pems).flatmap(lambda pem: st.integers(0, len(pem)).map(lambda cut: b64(pem[:cut]))),
        st.binary(max_size=200).map(
            lambda junk: b64(
                b"-----BEGIN CERTIFICATE-----\n" + base64.b64encode(junk) + b"\n-----END CERTIFICATE-----\n"
            )
        ),
    )


URLS = st.one_of(
    ANY_FIELD,
    st.builds(
        lambda scheme, host, port: f"{scheme}://{host}{port}",
        st.sampled_from(["grpc", "grpcs", "GRPC", "http", "https", "", "grpc+unix"]),
        st.one_of(TEXT, st.sampled_from(["localhost", "a.b", "[::1]", "1.2.3.4", ""])),
        st.sampled_from(["", ":443", ":0", ":99999", ":-1", ":x", "/path?q#f"]),
    ),
)


VALID_URLS = st.sampled_from(
    [
        "grpc://localhost:8080",
        "grpcs://agent.example.com:443",
        "grpcs://10.0.0.1",
        "grpc://[::1]:1",
        "grpcs://a-b.c-d.example",
    ]
)


@HYPOTHESIS
@given(data=st.data())
def test_url_configuration_fields(api, estate, pki, data):
    plausible = data.draw(st.booleans(), "mostly valid")  # half the runs near the valid inputs, so some succeed

    def field(name: str, valid: st.SearchStrategy, hostile: st.SearchStrategy) -> Any:
        return data.draw(st.one_of(st.none(), valid) if plausible and data.draw(st.booleans()) else hostile, name)

    fields = {
        "url": field("url", VALID_URLS, URLS),
        "tls_host": field(
            "tls_host",
            st.sampled_from(["a.b", "localhost", "agent.example.com"]),
            st.one_of(st.none(), ANY_FIELD, st.just("x" * 300)),
        ),
        "ca_cert": field("ca_cert", st.just(b64(pki.ca_cert)), _certificate(pki)),
        "client_cert": field("client_cert", st.just(b64(pki.client_cert)), _certificate(pki)),
        "client_key": field("client_key", st.just(b64(pki.client_key)), _certificate(pki)),
    }
    fields = {key: value for key, value in fields.items() if data.draw(st.booleans(), f"send {key}")} | {
        "url": fields["url"]
    }
    response = api.post(estate.configurations, json_body=fields)
    body = assert_gitlab(response, fields)
    if response.status == 201:
        assert re.match(r"\Agrpcs?://", body["url"]), body
        assert (body["public_key"] is None) != (body["client_cert"] is None), body
        assert "client_key" not in body and "private_key" not in body
        assert api.delete(f"{estate.configurations}/{body['id']}").status == 204
    else:
        assert response.status == 400, (response.status, body)


# ---------------------------------------------------------------- ids and pages
@HYPOTHESIS
@given(
    project=ID_TEXT,
    agent=ID_TEXT,
    record=ID_TEXT,
    method=st.sampled_from(["GET", "DELETE", "POST"]),
    route=st.sampled_from(["agents", "agent", "tokens", "token", "configurations", "configuration"]),
)
def test_odd_ids_in_every_position(api, estate, project, agent, record, method, route):
    base = f"/projects/{project}/cluster_agents"
    path = {
        "agents": base,
        "agent": f"{base}/{agent}",
        "tokens": f"{base}/{agent}/tokens",
        "token": f"{base}/{agent}/tokens/{record}",
        "configurations": f"{base}/{agent}/url_configurations",
        "configuration": f"{base}/{agent}/url_configurations/{record}",
    }[route]
    assume(not (method == "POST" and route in ("agent", "token", "configuration")))
    body = {"name": "x", "url": "grpc://localhost:1"} if method == "POST" else None
    response = api.request(method, path, json_body=body)
    assert_gitlab(response, path)
    # (a generated integer may name the project, its agent or token: then any answer of the route)
    assert response.status in (200, 201, 204, 400, 404), (path, response.status, response.text)


def _calls_with_id(estate, odd: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"{estate.base}/{odd}"),
        ("DELETE", f"{estate.base}/{odd}"),
        ("GET", f"{estate.base}/{odd}/tokens"),
        ("POST", f"{estate.base}/{odd}/tokens"),
        ("GET", f"{estate.tokens}/{odd}"),
        ("DELETE", f"{estate.tokens}/{odd}"),
        ("GET", f"{estate.base}/{odd}/url_configurations"),
        ("GET", f"{estate.configurations}/{odd}"),
        ("DELETE", f"{estate.configurations}/{odd}"),
        ("PUT", f"/jobs/{odd}"),
    ]


def test_odd_ids_in_a_visible_project(api, estate):
    """The project exists: each odd agent, token or configuration id is a 400 or a 404."""
    for odd in ODD_IDS:
        for method, path in _calls_with_id(estate, odd):
            response = api.request(method, path, json_body={"name": "x"} if method == "POST" else None)
            assert_gitlab(response, path)
            assert response.status in (400, 403, 404), (method, path, response.status, response.text)
    assert api.get(f"{estate.base}/{estate.agent['id']}").status == 200  # nothing was deleted
    assert api.get(f"{estate.base}/000{estate.agent['id']}").json() == estate.agent  # Grape's Integer: "0001" is 1


@HYPOTHESIS
@given(
    page=st.one_of(TEXT, st.integers(-(2**70), 2**70).map(str)),
    per_page=st.one_of(TEXT, st.integers(-(2**70), 2**70).map(str)),
    route=st.sampled_from(["agents", "tokens"]),
)
def test_pagination_parameters(api, estate, page, per_page, route):
    response = api.get(estate.base if route == "agents" else estate.tokens, params={"page": page, "per_page": per_page})
    body = assert_gitlab(response, (page, per_page))
    if response.status == 200:
        assert isinstance(body, list) and len(body) <= 100
        assert int(response.headers["X-Per-Page"]) in range(1, 101)
    else:
        assert response.status == 400 and body in (
            {"error": "page is invalid"},
            {"error": "per_page is invalid"},
            {"error": "page is invalid, per_page is invalid"},
        ), body


@pytest.mark.parametrize(
    ("page", "per_page"),
    [
        ("0", "0"),
        ("-5", "-5"),
        (str(2**64), "1"),
        ("1", str(2**64)),
        ("99999999", "100"),
        (" 2", "3 "),
        ("2.0", "1"),
        ("\u0661", "\u0662"),
    ],
)
def test_extreme_pages(api, estate, page, per_page):
    for path in (estate.base, estate.tokens):
        assert_gitlab(api.get(path, params={"page": page, "per_page": per_page}), (page, per_page))


# ---------------------------------------------------------------- the agent server
@HYPOTHESIS
@given(agent_id=st.one_of(JSON_VALUES, st.just("SELF")), agent_config=JSON_VALUES)
def test_agent_configuration_payloads(estate, agent_id, agent_config):
    agent_id = estate.agent["id"] if agent_id == "SELF" else agent_id
    response = ApiClient().post(
        CONFIGURATION,
        headers={"Gitlab-Kas-Api-Request": kas_jwt()},
        json_body={"agent_id": agent_id, "agent_config": agent_config},
    )
    assert_gitlab(response, (agent_id, agent_config))
    assert response.status in (204, 400, 404), response.text


CI_ENTRY = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"id": st.one_of(TEXT, JSON_SCALARS)},
        optional={
            "default_namespace": JSON_VALUES,
            "access_as": JSON_VALUES,
            "environments": JSON_VALUES,
            "protected_branches_only": JSON_VALUES,
        },
    ),
)


@HYPOTHESIS
@given(
    projects=st.one_of(JSON_VALUES, st.lists(CI_ENTRY, max_size=6)),
    groups=st.one_of(JSON_VALUES, st.lists(CI_ENTRY, max_size=6)),
    as_text=st.booleans(),
)
def test_ci_access_shaped_configurations(estate, projects, groups, as_text):
    config: Any = {"ci_access": {"projects": projects, "groups": groups}}
    response = ApiClient().post(
        CONFIGURATION,
        headers={"Gitlab-Kas-Api-Request": kas_jwt()},
        json_body={"agent_id": estate.agent["id"], "agent_config": json.dumps(config) if as_text else config},
    )
    assert_gitlab(response, config)
    assert response.status == 204, response.text
    # and the jobs of the project still get a well-formed answer
    assert_gitlab(ApiClient(estate.job["token"]).get("/job/allowed_agents", auth="job-token"))


PROXY = "/internal/kubernetes/authorize_proxy_user"
USER_ACCESS_ENTRY = st.one_of(
    JSON_VALUES,
    st.fixed_dictionaries(
        {"id": st.one_of(st.sampled_from(["root/hostile", "ROOT/Hostile", "root", "root/nope"]), TEXT, JSON_SCALARS)}
    ),
)


def _k8s_proxy_token(world) -> str:
    return world.user(scopes=["k8s_proxy"]).token


@HYPOTHESIS
@given(
    projects=st.one_of(JSON_VALUES, st.lists(USER_ACCESS_ENTRY, max_size=6)),
    groups=st.one_of(JSON_VALUES, st.lists(USER_ACCESS_ENTRY, max_size=6)),
    access_as=st.one_of(
        JSON_VALUES, st.dictionaries(st.sampled_from(["agent", "user", "ci_job"]), JSON_VALUES, max_size=2)
    ),
    section=st.sampled_from(["full", "not an object", "without access_as"]),
)
def test_user_access_shaped_configurations(estate, world, projects, groups, access_as, section):
    """Whatever user_access holds, the configuration is stored (204) and authorising through it
    answers 201 or one of GitLab's 403s (root, the administrator, is authorised wherever it counts)."""
    user_access: Any = {"projects": projects, "groups": groups, "access_as": access_as}
    if section == "not an object":
        user_access = [user_access]
    elif section == "without access_as":
        del user_access["access_as"]
    config = {"agent_id": estate.agent["id"], "agent_config": {"user_access": user_access}}
    response = ApiClient().post(CONFIGURATION, headers={"Gitlab-Kas-Api-Request": kas_jwt()}, json_body=config)
    assert_gitlab(response, user_access)
    assert response.status == 204, response.text
    if not hasattr(estate, "proxy_token"):
        estate.proxy_token = world.root.post(
            "/users/1/personal_access_tokens", json_body={"name": "k8s", "scopes": ["k8s_proxy"]}
        ).json()["token"]
    response = ApiClient().post(
        PROXY,
        headers={"Gitlab-Kas-Api-Request": kas_jwt()},
        json_body={
            "agent_id": estate.agent["id"],
            "access_type": "personal_access_token",
            "access_key": estate.proxy_token,
        },
    )
    body = assert_gitlab(response, user_access)
    assert response.status in (201, 403), response.text
    if response.status == 201:
        assert body["agent"]["id"] == estate.agent["id"] and body["user"]["id"] == 1


@HYPOTHESIS
@given(
    agent_id=st.one_of(JSON_VALUES, st.just("SELF")),
    access_type=st.one_of(
        JSON_VALUES, st.sampled_from(["personal_access_token", "session_cookie", "PERSONAL_ACCESS_TOKEN"])
    ),
    access_key=st.one_of(ANY_FIELD, st.just("VALID")),
    csrf_token=st.one_of(ANY_FIELD, st.just("ABSENT")),
)
def test_authorize_proxy_user_payloads(estate, world, agent_id, access_type, access_key, csrf_token):
    if not hasattr(estate, "proxy_token"):
        estate.proxy_token = _k8s_proxy_token(world)
    body = {
        "agent_id": estate.agent["id"] if agent_id == "SELF" else agent_id,
        "access_type": access_type,
        "access_key": estate.proxy_token if access_key == "VALID" else access_key,
        "csrf_token": csrf_token,
    }
    if csrf_token == "ABSENT":
        del body["csrf_token"]
    response = ApiClient().post(PROXY, headers={"Gitlab-Kas-Api-Request": kas_jwt()}, json_body=body)
    assert_gitlab(response, body)
    assert response.status in (400, 401, 403, 404), response.text


JWT_CLAIM = st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=3))


@HYPOTHESIS
@given(
    header=st.one_of(
        TEXT,
        st.lists(
            st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode()), min_size=1, max_size=5
        ).map(".".join),
        st.dictionaries(st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub", "jti"]), JWT_CLAIM).map(
            lambda claims: signed_jwt(claims)
        ),
        st.dictionaries(TEXT.filter(lambda t: len(t) < 10), JWT_CLAIM, max_size=3).map(
            lambda header: signed_jwt(None, header)
        ),
        JSON_VALUES.map(lambda claims: signed_jwt(claims)),
    ),
    agent_token=st.one_of(st.none(), TEXT, st.just("VALID")),
    path=st.sampled_from(
        [
            "/internal/kubernetes/agent_info",
            "/internal/agents/agentk/agent_info",
            "/internal/kubernetes/agent_configuration",
        ]
    ),
)
def test_kas_credentials(estate, header, agent_token, path):
    headers = {"Gitlab-Kas-Api-Request": header}
    if agent_token is not None:
        headers["Authorization"] = f"Bearer {estate.token['token'] if agent_token == 'VALID' else agent_token}"
    response = ApiClient().request(
        "POST" if path.endswith("configuration") else "GET",
        path,
        headers=headers,
        json_body={"agent_id": estate.agent["id"], "agent_config": {}},
    )
    assert_gitlab(response, headers)
    assert response.status in (200, 204, 401), response.text


def signed_jwt(claims: Any, extra_header: dict | None = None) -> str:
    """An HS256 JWT signed with the right secret, whatever its claims and header hold (PyJWT
    refuses to encode odd claims, so it is put together by hand)."""
    import hashlib
    import hmac

    def part(value: Any) -> bytes:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=")

    if claims is None:
        claims = {"iss": "gitlab-kas", "aud": "gitlab", "exp": int(time.time()) + 5}
    signing_input = part({**(extra_header or {}), "alg": "HS256", "typ": "JWT"}) + b"." + part(claims)
    signature = base64.urlsafe_b64encode(hmac.new(KAS_KEY, signing_input, hashlib.sha256).digest()).rstrip(b"=")
    return (signing_input + b"." + signature).decode()


@HYPOTHESIS
@given(
    agent_token=TEXT,
    header=st.sampled_from(["Authorization", "Gitlab-Agentk-Api-Request", "Gitlab-Agent-Api-Request"]),
    scheme=st.sampled_from(["Bearer ", "Token ", "Token token=", "", "bearer  ", "Basic "]),
)
def test_agent_token_headers(estate, agent_token, header, scheme):
    value = f"{scheme}{agent_token}" if header == "Authorization" else agent_token
    response = ApiClient().get(
        "/internal/kubernetes/agent_info", headers={"Gitlab-Kas-Api-Request": kas_jwt(), header: value}
    )
    assert_gitlab(response, value)
    assert response.status == 401, response.text


# ---------------------------------------------------------------- CI jobs
@HYPOTHESIS
@given(token=TEXT, how=st.sampled_from(["job-token", "bearer", "param", "private-token"]))
def test_job_tokens(estate, token, how):
    client = ApiClient(token if how != "param" else None)
    params = {"job_token": token} if how == "param" else None
    response = client.get("/job/allowed_agents", auth=how, params=params)
    assert_gitlab(response, token)
    assert response.status in (401, 404), response.text


@HYPOTHESIS
@given(
    state=st.one_of(ANY_FIELD, st.sampled_from(["success", "failed", "running", "canceled", "SUCCESS"])),
    token=st.one_of(st.none(), st.none(), TEXT),
)
def test_job_finish_parameters(api, estate, state, token):
    running = api.post("/admin/ci/jobs", json_body={"project_id": estate.project["id"], "user_id": 1}).json()
    response = ApiClient(running["token"]).put(
        f"/jobs/{running['id']}", auth="job-token", json_body={"state": state, **({"token": token} if token else {})}
    )
    assert_gitlab(response, (state, token))
    assert response.status in (200, 400, 403), response.text


# ---------------------------------------------------------------- malformed, mistyped, huge, odd
POST_ROUTES = {
    "agent": lambda e: e.base,
    "token": lambda e: e.tokens,
    "url configuration": lambda e: e.configurations,
    "agent configuration": lambda e: "/internal/kubernetes/agent_configuration",
    "authorize proxy user": lambda e: "/internal/kubernetes/authorize_proxy_user",
}
MALFORMED = [
    "{",
    "[1, 2",
    "}",
    "\x00\x01",
    "null",
    "[]",
    '"string"',
    "12",
    "true",
    '{"name": ' * 5000,
    "[" * 100_000,
    '{"a":' * 10_000 + "1" + "}" * 10_000,
    '\ufeff{"name": "x"}',
    "{'name': 'x'}",
    '{"name": "x",}',
    '{"name": NaN}',
    '{"name": Infinity}',
    '{"name": -Infinity}',
    "name=x",
    '{"name": "x"}{"name": "y"}',
    '{"name": "x", "name": ["y"]}',
]


def _post_raw(estate, route: str, body: str | bytes, content_type: str = "application/json") -> Response:
    headers = {"Content-Type": content_type}
    if route in ("agent configuration", "authorize proxy user"):
        headers["Gitlab-Kas-Api-Request"] = kas_jwt()
        return ApiClient().post(POST_ROUTES[route](estate), raw_body=body, headers=headers)
    return ApiClient(estate.root_token).post(POST_ROUTES[route](estate), raw_body=body, headers=headers)


@pytest.fixture
def hostile(estate, root_token):
    estate.root_token = root_token
    return estate


@pytest.mark.parametrize("route", list(POST_ROUTES))
def test_malformed_json_bodies(hostile, route):
    for body in MALFORMED:
        response = _post_raw(hostile, route, body)
        assert_gitlab(response, body[:40])
        assert response.status == 400, (body[:40], response.status, response.text)


NOT_UTF8 = [
    b"\xff\xfe{}",
    b'{"name": "\xc3\x28"}',
    b"\x80",
    '{"name": "\\ud800"}',
    '{"name": "ok", "description": "\\udfff", "url": "\\udbff", "agent_id": 1, "agent_config": {"\\ud800": 1}}',
]


@pytest.mark.parametrize("route", list(POST_ROUTES))
def test_bodies_that_are_not_utf8_are_refused(hostile, route):
    """Regression: these were a 500 (invalid UTF-8) and a 503 (a lone surrogate reached the store,
    which clients retry as a transient failure)."""
    for body in NOT_UTF8:
        form = ("application/x-www-form-urlencoded",) if isinstance(body, bytes) else ()  # (no JSON escapes in a form)
        for content_type in ("application/json", "text/plain", *form):
            response = _post_raw(hostile, route, body, content_type)
            assert (response.status, response.json()) == (400, {"error": "The request body is not valid UTF-8"}), (
                body,
                content_type,
                response.text,
            )


MAX_BODY = 5 * 1024 * 1024  # SPEC §1.4
TOO_LARGE = (413, {"message": "413 Request Entity Too Large"})


def _body_of_size(size: int, agent_id: int) -> str:
    """A JSON body of exactly ``size`` bytes whose description (``d``s) takes up the rest."""
    fields = {"name": "x", "url": "grpc://localhost:1", "agent_id": agent_id, "agent_config": {}, "description": ""}
    padding = size - len(json.dumps(fields))
    return json.dumps({**fields, "description": "d" * padding})


@pytest.mark.parametrize("route", list(POST_ROUTES))
def test_huge_bodies_are_413(hostile, route):
    body = _body_of_size(MAX_BODY + 1, hostile.agent["id"])
    assert len(body.encode()) == MAX_BODY + 1
    response = _post_raw(hostile, route, body)
    assert (response.status, response.json()) == TOO_LARGE


@pytest.mark.parametrize("route", list(POST_ROUTES))
def test_bodies_up_to_5_mib_are_processed(hostile, route):
    """Regression: a body over 1,000,000 bytes was 413 where GitLab answers as usual."""
    response = _post_raw(hostile, route, _body_of_size(MAX_BODY, hostile.agent["id"]))
    assert response.status != 413, response.text
    assert response.status < 500, response.text


def test_a_million_character_token_description_gets_the_validation_message(hostile):
    tokens = ApiClient(hostile.root_token)
    response = tokens.post(hostile.tokens, json_body={"name": "t", "description": "d" * 1_000_000})
    assert (response.status, response.json()) == (
        400,
        {"message": '400 Bad request - ["Description is too long (maximum is 1024 characters)"]'},
    )


@pytest.mark.parametrize("credentials", [{"PRIVATE-TOKEN": "glpat-unknown"}, {"Authorization": "Bearer unknown"}, {}])
def test_huge_bodies_are_413_before_authentication(hostile, credentials):
    body = _body_of_size(MAX_BODY + 1, hostile.agent["id"])
    response = ApiClient().post(
        hostile.tokens, raw_body=body, headers={"Content-Type": "application/json", **credentials}
    )
    assert (response.status, response.json()) == TOO_LARGE


@pytest.mark.parametrize(
    ("route", "fields", "error"),
    [
        ("agent", {"name": {"nested": True}}, "name is invalid"),
        ("agent", {"name": ["agent"]}, "name is invalid"),
        ("token", {"name": ["t"]}, "name is invalid"),
        ("token", {"name": "t", "description": {"a": 1}}, "description is invalid"),
        ("url configuration", {"url": ["grpc://localhost:1"]}, "url is invalid"),
        ("url configuration", {"url": "grpc://localhost:1", "tls_host": ["a"]}, "tls_host is invalid"),
        ("agent configuration", {"agent_id": [1], "agent_config": {}}, "agent_id is invalid"),
        ("agent configuration", {"agent_id": "1.5", "agent_config": {}}, "agent_id is invalid"),
        ("agent configuration", {"agent_id": 1, "agent_config": 5}, "agent_config is invalid"),
        (
            "authorize proxy user",
            {"agent_id": [1], "access_type": "personal_access_token", "access_key": "k"},
            "agent_id is invalid",
        ),
        (
            "authorize proxy user",
            {"agent_id": 1, "access_type": 1, "access_key": {"k": 1}},
            "access_type does not have a valid value, access_key is invalid",
        ),
        (
            "authorize proxy user",
            {"agent_id": 1, "access_type": "session_cookie", "access_key": "k", "csrf_token": []},
            "csrf_token is invalid",
        ),
    ],
)
def test_wrong_types_are_invalid_parameters(hostile, route, fields, error):
    response = _post_raw(hostile, route, json.dumps(fields))
    assert (response.status, response.json()) == (400, {"error": error})


ODD_NAMES = [
    "agent\u0000",
    "\u202eagent",
    "\u0430gent",
    "agent\u200b",
    "\uff41\uff47\uff45\uff4e\uff54",
    "ag\u00e9nt",
    "a" * 64,
    "agent\n",
    " agent",
    "Agent",
    "agent/../x",
]


def test_odd_unicode_agent_names_are_refused(api, estate):
    for name in ODD_NAMES:
        response = api.post(estate.base, json_body={"name": name})
        assert response.status == 400, (name, response.text)
        assert assert_gitlab(response)["message"].startswith("400 Bad request - [")


@pytest.mark.parametrize("value", ["\u0000", "\u202e\u202d", "😀" * 255, "\ufeff", "漢字" * 100])
def test_odd_unicode_token_names_round_trip(api, estate, value):
    made = api.post(estate.tokens, json_body={"name": value, "description": value})
    body = assert_gitlab(made, value)
    assert made.status == 201, made.text
    assert (body["name"], body["description"]) == (value, value)
    assert api.get(f"{estate.tokens}/{body['id']}").json()["name"] == value
    assert api.delete(f"{estate.tokens}/{body['id']}").status == 204


def test_traversal_in_the_project_path_finds_nothing(api, estate):
    for odd in (
        "root%2F..%2Froot%2Fhostile",
        "root%2Fhostile%2F..",
        "%2Froot%2Fhostile",
        "root%2F%2Fhostile",
        "root%2Fhostile%00",
        "ROOT%2FHOSTILE%2F",
        "root%5Chostile",
    ):
        response = api.get(f"/projects/{odd}/cluster_agents")
        assert (response.status, response.json()) == (404, {"message": "404 Project Not Found"}), odd
