"""The base URL in ``web_url``, ``Link`` and the OpenAPI ``servers`` (SPEC §1.6) comes from what
API Gateway writes into the event (``requestContext``: the domain the client connected to, the
stage or base path) or the configured external URL, never from a header the client chose:
``Host`` is ignored and ``X-Forwarded-Proto`` only picks ``http`` or ``https``."""

from __future__ import annotations

import pytest

from testkit.client import ApiClient

HOSTILE_PROTOS = ["javascript", "https://evil.example/x?", "ftp", "http:", "https evil", "\u0000", "h" * 2000]


def _urls(api: ApiClient, world, headers: dict[str, str]) -> list[str]:
    project = world.project()
    created = api.post("/projects", json_body={"name": world_name()}, headers=headers).json()["web_url"]
    listing = api.get(f"/projects/{project['id']}/members", headers=headers).headers["Link"]
    servers = ApiClient().get("/openapi.json", headers=headers).json()["servers"][0]["url"]
    return [created, listing, servers]


_names = iter(range(1, 10_000))


def world_name() -> str:
    return f"base-url-{next(_names)}"


@pytest.mark.parametrize("proto", HOSTILE_PROTOS)
def test_a_forwarded_proto_other_than_http_or_https_is_ignored(api, world, proto):
    for url in _urls(api, world, {"X-Forwarded-Proto": proto}):
        assert "https://gitlab.test/" in url + "/" and "evil" not in url and proto not in url.replace("https", ""), url


@pytest.mark.parametrize(
    ("proto", "scheme"), [("http", "http"), ("HTTP", "http"), ("https", "https"), ("http, https", "http")]
)
def test_http_and_https_are_taken_from_x_forwarded_proto(api, world, proto, scheme):
    for url in _urls(api, world, {"X-Forwarded-Proto": proto}):
        assert f"{scheme}://gitlab.test" in url, url


def test_the_host_header_is_not_the_base_url(api, world):
    """The event's domainName says gitlab.test (the domain connected to); a Host header saying
    otherwise is not believed."""
    for url in _urls(api, world, {"Host": "evil.example"}):
        assert "https://gitlab.test" in url and "evil" not in url, url


def test_a_stage_in_the_request_context_path_is_part_of_the_base_url(api, world):
    project = world.project()
    response = api.get(f"/projects/{project['id']}", headers={})
    event = response.event
    assert event["requestContext"]["path"] == event["path"]  # the in-process client: no stage prefix
    from cluster_agents.web import request as request_context

    staged = {
        **event,
        "requestContext": {
            **event["requestContext"],
            "path": "/prod" + event["path"],
            "domainName": "abc.execute-api.us-east-1.amazonaws.com",
        },
    }
    assert request_context.Request(staged).base_url() == "https://abc.execute-api.us-east-1.amazonaws.com/prod"
    odd = {
        **staged,
        "requestContext": {
            **staged["requestContext"],
            "domainName": "evil.example/x?y=",
            "path": "/<script>" + event["path"],
        },
    }
    assert request_context.Request(odd).base_url() == "https://localhost"


def test_the_configured_external_url_wins(api, world, monkeypatch):
    from cluster_agents.settings import get_settings

    monkeypatch.setenv("EXTERNAL_URL", "https://gitlab.example.com/")
    get_settings.cache_clear()
    try:
        for url in _urls(api, world, {"X-Forwarded-Proto": "http", "Host": "evil.example"}):
            assert "https://gitlab.example.com" in url and "evil" not in url, url
    finally:
        get_settings.cache_clear()
