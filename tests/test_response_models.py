"""Every success with a body is described by a schema (its response model, ``web.entity.Entity``)
in the OpenAPI, and the bodies the handlers really send match it: types, and fields in the
model's order (the models document the bodies; the handlers build them as dicts, byte for byte
what GitLab sends)."""

from __future__ import annotations

import json
from typing import Any

from testkit.client import ApiClient
from tests.test_kas import create_agent
from tests.test_openapi import DOCUMENT, _exercise, _quiet_logs
from tests.test_user_access import authorize, configure_user_access, proxy_request

# Routes whose success body has no model yet (none: the test fails when a route lacks one).
WITHOUT_SCHEMA_YET: set[tuple[str, str]] = set()


def _successes() -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) -> the content of its 2xx response, for the routes whose success has a body."""
    found = {}
    for path, operations in DOCUMENT["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith("2") and response.get("content"):
                    found[(method.upper(), path)] = response["content"]
    return found


def test_every_success_with_a_body_has_a_schema():
    without = {route for route, content in _successes().items() if any("schema" not in m for m in content.values())}
    assert without == WITHOUT_SCHEMA_YET
    assert len(_successes()) >= 38


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _order_problems(body: Any, schema: dict[str, Any], where: str) -> list[str]:
    """Fields in the body in the order the schema (the model) lists them, recursively."""
    schema = _resolve(schema)
    for option in schema.get("anyOf", []):  # a nullable or alternative object: the one that fits
        option = _resolve(option)
        if isinstance(body, dict) and set(body) <= set(option.get("properties", {})) and option.get("properties"):
            return _order_problems(body, option, where)
    problems = []
    if isinstance(body, dict) and "properties" in schema:
        declared = [name for name in schema["properties"] if name in body]
        if list(body) != declared:
            problems.append(f"{where}: {list(body)} != {declared}")
        for name, value in body.items():
            problems += _order_problems(value, schema["properties"].get(name, {}), f"{where}.{name}")
    elif isinstance(body, list) and "items" in schema:
        for index, item in enumerate(body):
            problems += _order_problems(item, schema["items"], f"{where}[{index}]")
    return problems


def _authorize_proxy_users(world, api) -> None:
    """authorize_proxy_user's 201s (the broad sample only sees its refusals): as the agent, as the user."""
    group = world.group("proxied")
    config = world.project("kube", namespace_id=group["id"])
    estate = {"agent": create_agent(api, config["id"], "proxy"), "alice": world.user("alice", scopes=["k8s_proxy"])}
    world.member("group", group["id"], estate["alice"], 40)
    for access_as in ("agent", "user"):
        configure_user_access(estate, access_as, projects=["proxied/kube"], groups=["proxied"])
        assert authorize(proxy_request(estate["agent"]["id"], estate["alice"].token)).status == 201


def test_success_bodies_match_their_schemas_in_types_and_field_order(world, api, monkeypatch):
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    seen: list[tuple[str, str, str]] = []
    dispatch = ApiClient._dispatch

    def recording(self, method, raw_path, query, headers, body):
        response = dispatch(self, method, raw_path, query, headers, body)
        if response.event and 200 <= response.status < 300 and response.text and method != "HEAD":
            seen.append((response.event["httpMethod"], response.event["resource"], response.text))
        return response

    monkeypatch.setattr(ApiClient, "_dispatch", recording)
    with _quiet_logs():
        _exercise(world, api, monkeypatch)
        _authorize_proxy_users(world, api)

    registry = Registry().with_resource("urn:document", Resource(contents=DOCUMENT, specification=DRAFT202012))
    successes = _successes()
    checked: set[tuple[str, str]] = set()
    for method, path, text in seen:
        media = successes[(method, path)].get("application/json")
        if media is None or (method, path) in WITHOUT_SCHEMA_YET:
            continue
        body = json.loads(text)
        # The document's own references, from a schema outside it.
        schema = json.loads(json.dumps(media["schema"]).replace('"#/components/', '"urn:document#/components/'))
        errors = [error.message for error in Draft202012Validator(schema, registry=registry).iter_errors(body)]
        assert errors == [], (method, path, errors, body)
        assert _order_problems(body, media["schema"], f"{method} {path}") == []
        checked.add((method, path))
    expected = {
        route
        for route in successes
        # JSON bodies (the docs page and its assets are HTML, JavaScript, CSS); HEAD sends no body
        if route not in WITHOUT_SCHEMA_YET and "application/json" in successes[route] and route[0] != "HEAD"
    }
    assert checked == expected, sorted(expected - checked)
