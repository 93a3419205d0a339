"""Bounded cost per request: every write route has a hostile corpus in bench/worstcase.py,
no case of it is a 5xx, and what the corpus found stays fixed (a PAT name or description of any
length, an entry nested thousands deep in an agent's ci_access)."""

from __future__ import annotations

import pytest

from bench.scenarios import SCENARIOS, World, show, template_routes
from bench.worstcase import HOSTILE, measure, write_routes
from testkit.client import InProcess
from tests.test_kas import configure, create_agent


def test_every_write_route_of_the_template_has_a_hostile_corpus():
    """A route added to template.yaml needs its entry in bench/worstcase.py's HOSTILE table."""
    missing = sorted(show(key) for key in write_routes(template_routes()) - set(HOSTILE))
    assert missing == [], f"write routes without a worst-case corpus (bench/worstcase.py HOSTILE): {missing}"


def test_the_corpus_names_only_routes_of_the_template():
    stale = sorted(show(key) for key in set(HOSTILE) - write_routes(template_routes()))
    assert stale == []


@pytest.mark.slow
def test_no_hostile_case_is_a_server_error(root_token):
    """The whole corpus through the handlers (moto in this process, so CPU here includes moto's:
    BENCHMARKS.md has the handler's own, against the 0.25 s target)."""
    client = InProcess()
    world = World(client, "hostile", root_token=root_token)
    costs = measure(world, client, template_routes(), [s for s in SCENARIOS if not s.label], repeats=1)
    assert {cost.key for cost in costs} == write_routes(template_routes())
    errors = {cost.name: cost.server_errors for cost in costs if cost.server_errors}
    assert errors == {}
    assert max(cost.worst for cost in costs) < 1.0


@pytest.mark.parametrize("field", ["name", "description"])
def test_a_personal_access_token_name_or_description_is_bounded(api, field):
    """Before: 1 MB of name reached DynamoDB's 400 KB item limit, a 500."""
    body = {"name": "t", "scopes": ["api"], field: "n" * 256}
    response = api.post("/users/1/personal_access_tokens", json_body=body)
    assert (response.status, response.json()) == (
        400,
        {"message": f'400 Bad request - ["{field.title()} is too long (maximum is 255 characters)"]'},
    )
    assert api.post("/users/1/personal_access_tokens", json_body={**body, field: "n" * 255}).status == 201


def test_a_ci_access_entry_nested_too_deeply_is_a_400(world, api):
    """Before: a RecursionError, a 500 (the entry was ordered recursively before any bound)."""
    root = world.group("acme")
    home = world.project("kube", namespace_id=root["id"])
    agent = create_agent(api, home["id"])["id"]
    deep: object = []
    for _ in range(900):
        deep = [deep]
    response = configure(agent, {"ci_access": {"groups": [{"id": "acme", "access_as": deep}]}})
    assert (response.status, response.json()) == (
        400,
        {
            "message": "400 Bad request - ci_access: the entry for group acme is nested too deeply "
            "(maximum is 32 levels)"
        },
    )
    shallow: object = {}  # the entry is the first level, access_as's innermost {} the 32nd
    for _ in range(30):
        shallow = {"a": shallow}
    assert configure(agent, {"ci_access": {"groups": [{"id": "acme", "access_as": shallow}]}}).status == 204
