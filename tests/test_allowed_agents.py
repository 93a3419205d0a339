"""``GET /job/allowed_agents`` (SPEC §6.1): job-token authentication, the body, and which agents a
job may use - implicit, project and group authorisations, their precedence and the job filters."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testkit.client import ApiClient
from tests.test_kas import configure, create_agent

PATH = "/job/allowed_agents"
UNAUTHORIZED = {"message": "401 Unauthorized"}
JOB_NOT_FOUND = {"message": "404 Job Not Found"}
IDENTITY_FIELDS = ("id", "description", "name", "name_with_namespace", "path", "path_with_namespace", "created_at")
EVENTS = Path(__file__).resolve().parent.parent / "events"


def start_job(api: ApiClient, project_id: int, user_id: int, **fields) -> dict:
    made = api.post("/admin/ci/jobs", json_body={"project_id": project_id, "user_id": user_id, **fields})
    assert made.status == 201, made.text
    return made.json()


def allowed(token: str | None, auth: str = "job-token", **kwargs):
    return ApiClient(token).get(PATH, auth=auth, **kwargs)


def agents_of(response) -> dict[int, dict]:
    assert response.status == 200, response.text
    return {agent["id"]: agent["configuration"] for agent in response.json()["allowed_agents"]}


def identity(api: ApiClient, project_id: int) -> dict:
    project = api.get(f"/projects/{project_id}").json()
    return {field: project[field] for field in IDENTITY_FIELDS}


@pytest.fixture
def estate(world, api):
    """acme > team > web > app (the job's project), acme/kube (agents), other/elsewhere, and a
    developer of app."""
    root = world.group("acme")
    team = world.group("team", parent_id=root["id"])
    web = world.group("web", parent_id=team["id"])
    other = world.group("other")
    app = world.project("app", namespace_id=web["id"])
    kube = world.project("kube", namespace_id=root["id"])
    elsewhere = world.project("elsewhere", namespace_id=other["id"])
    dev = world.user("dev")
    world.member("project", app["id"], dev, 30)
    return SimpleNamespace(root=root, team=team, web=web, other=other, app=app, kube=kube, elsewhere=elsewhere, dev=dev)


def job_of(api, estate, **fields) -> dict:
    return start_job(api, estate.app["id"], estate.dev.id, **fields)


# ---------------------------------------------------------------- authentication
def test_the_job_token_in_each_form(estate, api):
    job = job_of(api, estate)
    answers = [
        allowed(job["token"], auth="job-token"),
        allowed(None, params={"job_token": job["token"]}),
        allowed(job["token"], auth="bearer"),
    ]
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[0].json() == answers[1].json() == answers[2].json()
    assert answers[0].headers["Content-Type"] == "application/json"


def test_missing_unknown_and_finished_job_tokens_are_401(estate, api):
    assert (allowed(None).status, allowed(None).json()) == (401, UNAUTHORIZED)
    for auth in ("job-token", "bearer"):
        response = allowed("glcbt-unknown-token", auth=auth)
        assert (response.status, response.json()) == (401, UNAUTHORIZED), auth
    job = job_of(api, estate)
    assert (
        ApiClient(job["token"]).put(f"/jobs/{job['id']}", json_body={"state": "failed"}, auth="job-token").status == 200
    )
    for response in (
        allowed(job["token"]),
        allowed(job["token"], auth="bearer"),
        allowed(None, params={"job_token": job["token"]}),
    ):
        assert (response.status, response.json()) == (401, UNAUTHORIZED)


def test_a_personal_access_token_is_not_a_job(estate, api, world):
    for auth in ("private-token", "bearer"):
        response = allowed(estate.dev.token, auth=auth)
        assert (response.status, response.json()) == (404, JOB_NOT_FOUND), auth
    response = allowed(None, params={"private_token": estate.dev.token})
    assert (response.status, response.json()) == (404, JOB_NOT_FOUND)
    reader = world.user(scopes=["read_api"])
    assert allowed(reader.token, auth="private-token").json() == JOB_NOT_FOUND


def test_an_invalid_job_token_is_401_even_beside_a_valid_personal_token(estate):
    response = allowed("glcbt-unknown", auth="job-token", headers={"PRIVATE-TOKEN": estate.dev.token})
    assert (response.status, response.json()) == (401, UNAUTHORIZED)
    response = allowed(estate.dev.token, auth="private-token", params={"job_token": "glcbt-unknown"})
    assert (response.status, response.json()) == (401, UNAUTHORIZED)


def test_a_revoked_personal_token_fails_as_it_does_everywhere(estate, api):
    made = api.post(f"/users/{estate.dev.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["api"]})
    assert api.delete(f"/personal_access_tokens/{made.json()['id']}").status == 204
    response = allowed(made.json()["token"], auth="private-token")
    assert response.status == 401
    assert response.json()["error"] == "invalid_token"


# ---------------------------------------------------------------- the body
def test_the_body_byte_for_byte(estate, api):
    local = create_agent(api, estate.app["id"], "local")
    job = job_of(api, estate, pipeline_id=2323, environment={"name": "production"})
    response = allowed(job["token"])
    expected = {
        "allowed_agents": [{"id": local["id"], "config_project": identity(api, estate.app["id"]), "configuration": {}}],
        "job": {"id": job["id"]},
        "pipeline": {"id": 2323},
        "project": {
            "id": estate.app["id"],
            "groups": [{"id": estate.web["id"]}, {"id": estate.team["id"]}, {"id": estate.root["id"]}],
        },
        "user": {
            "id": estate.dev.id,
            "username": "dev",
            "roles_in_project": ["guest", "planner", "reporter", "developer"],
        },
        "environment": {"tier": "production", "slug": "production"},
    }
    assert response.status == 200
    assert response.text == json.dumps(expected, separators=(",", ":"))


def test_environment_only_when_the_job_has_one(estate, api):
    body = allowed(job_of(api, estate)["token"]).json()
    assert "environment" not in body
    assert list(body) == ["allowed_agents", "job", "pipeline", "project", "user"]
    review = allowed(job_of(api, estate, environment={"name": "review/feature-1"})["token"]).json()["environment"]
    assert review["tier"] == "development"
    assert re.fullmatch(r"review-feature-1-[a-z0-9]{6}", review["slug"])
    given_tier = allowed(job_of(api, estate, environment={"name": "eu-1", "tier": "staging"})["token"]).json()
    assert given_tier["environment"] == {"tier": "staging", "slug": "eu-1"}


def test_roles_in_project(estate, api, world):
    def roles(person) -> list[str]:
        job = start_job(api, estate.app["id"], person.id)
        return allowed(job["token"]).json()["user"]["roles_in_project"]

    guest = world.user()
    world.member("project", estate.app["id"], guest, 10)
    inherited = world.user()
    world.member("group", estate.root["id"], inherited, 40)
    owner = world.user()
    world.member("group", estate.team["id"], owner, 50)
    outsider = world.user()
    admin = world.user(admin=True)
    admin_reporter = world.user(admin=True)
    world.member("project", estate.app["id"], admin_reporter, 20)
    assert roles(guest) == ["guest"]
    assert roles(inherited) == ["guest", "planner", "reporter", "developer", "maintainer"]
    assert roles(owner) == ["guest", "planner", "reporter", "developer", "maintainer", "owner"]
    assert roles(outsider) == []
    assert roles(admin) == []  # an administrator's roles come from memberships only
    assert roles(admin_reporter) == ["guest", "planner", "reporter"]


def test_personal_project_has_no_groups_and_its_owner_every_role(world, api):
    owner = world.user("pat")
    project = world.project("lab", owner=owner)
    body = allowed(start_job(api, project["id"], owner.id)["token"]).json()
    assert body["project"] == {"id": project["id"], "groups": []}
    assert body["user"]["roles_in_project"] == ["guest", "planner", "reporter", "developer", "maintainer", "owner"]


# ---------------------------------------------------------------- which agents
def test_implicit_project_and_group_authorisations_with_their_precedence(estate, api):
    app, kube = estate.app["id"], estate.kube["id"]
    local = create_agent(api, app, "local")  # implicit; also configures itself
    by_project = create_agent(api, kube, "by-project")
    by_group = create_agent(api, kube, "by-group")
    both = create_agent(api, kube, "both")
    assert (
        configure(local["id"], {"ci_access": {"groups": [{"id": "acme", "default_namespace": "root"}]}}).status == 204
    )
    assert (
        configure(
            by_project["id"], {"ci_access": {"projects": [{"id": "acme/team/web/app", "default_namespace": "project"}]}}
        ).status
        == 204
    )
    assert (
        configure(
            by_group["id"],
            {
                "ci_access": {
                    "groups": [
                        {"id": "acme", "default_namespace": "root"},
                        {"id": "acme/team", "default_namespace": "team"},  # closer than acme: wins
                        {"id": "other", "default_namespace": "elsewhere"},
                    ]
                }
            },
        ).status
        == 204
    )
    assert (
        configure(
            both["id"],
            {
                "ci_access": {
                    "projects": [{"id": "acme/team/web/app", "default_namespace": "p"}],
                    "groups": [{"id": "acme/team/web", "default_namespace": "g"}],
                }
            },
        ).status
        == 204
    )
    response = allowed(job_of(api, estate)["token"])
    # project authorisations (by agent id), then implicit ones, then group ones
    assert [(a["id"], a["configuration"]) for a in response.json()["allowed_agents"]] == [
        (by_project["id"], {"default_namespace": "project"}),
        (both["id"], {"default_namespace": "p"}),
        (local["id"], {}),
        (by_group["id"], {"default_namespace": "team"}),
    ]
    config_projects = {a["id"]: a["config_project"] for a in response.json()["allowed_agents"]}
    assert config_projects[by_group["id"]] == identity(api, kube)
    assert config_projects[local["id"]] == identity(api, app)


def test_the_project_authorisation_beats_the_implicit_one(estate, api):
    local = create_agent(api, estate.app["id"], "local")
    assert (
        configure(
            local["id"], {"ci_access": {"projects": [{"id": "acme/team/web/app", "default_namespace": "mine"}]}}
        ).status
        == 204
    )
    assert agents_of(allowed(job_of(api, estate)["token"])) == {local["id"]: {"default_namespace": "mine"}}


def test_agents_of_another_hierarchy_or_deleted_ones_are_not_allowed(estate, api, aws):
    import boto3

    outside = create_agent(api, estate.elsewhere["id"], "outside")
    gone = create_agent(api, estate.kube["id"], "gone")
    assert configure(gone["id"], {"ci_access": {"groups": [{"id": "acme"}]}}).status == 204
    # An authorisation from another top-level hierarchy cannot be configured; written directly, it is ignored.
    table = aws.refs["AgentsTable"]
    for pk in (f"CIACCESS#project#{estate.app['id']}", f"CIACCESS#group#{estate.root['id']}"):
        boto3.client("dynamodb").update_item(
            TableName=table,
            Key={"pk": {"S": pk}, "sk": {"S": "ALL"}},
            UpdateExpression="SET #entry = :entry",
            ExpressionAttributeNames={"#entry": f"a{outside['id']}"},
            ExpressionAttributeValues={":entry": {"M": {"p": {"N": str(estate.elsewhere["id"])}, "c": {"S": "{}"}}}},
        )
    job = job_of(api, estate)
    assert agents_of(allowed(job["token"])) == {gone["id"]: {}}
    assert api.delete(f"/projects/{estate.kube['id']}/cluster_agents/{gone['id']}").status == 204
    assert agents_of(allowed(job["token"])) == {}


def test_a_warm_request_is_three_round_trips_however_many_agents_and_groups(estate, api):
    """The job, then ONE BatchGetItem of both tables: the user, the memberships and the
    authorisations of every source (the project, each of its three groups), then the project's
    own agents: however many agents, at any depth."""
    from cluster_agents.store.projects import projects

    from testkit.container import expire_recent_copies
    from testkit.counter import RoundTrips

    for number in range(4):
        agent = create_agent(api, estate.kube["id"], f"agent-{number}")
        assert (
            configure(
                agent["id"],
                {
                    "ci_access": {
                        "projects": [{"id": "acme/team/web/app"}],
                        "groups": [{"id": "acme"}, {"id": "acme/team"}],
                    }
                },
            ).status
            == 204
        )
    create_agent(api, estate.app["id"], "local")
    token = job_of(api, estate)["token"]
    assert len(agents_of(allowed(token))) == 5  # warms up
    counter = RoundTrips()
    with counter.measure() as within_the_second:
        assert len(agents_of(allowed(token))) == 5
    sources = 4  # app, web, team, acme
    assert [(call.operation, call.table, call.keys) for call in within_the_second.calls] == [
        ("GetItem", "Directory", "JOB#"),
        ("BatchGetItem", "Directory", f"USER#,MEMBERS#x{sources}"),  # the CIACCESS# items: the container's copies
        ("Query", "Agents", "PROJECT#"),
    ]
    expire_recent_copies()
    with counter.measure() as warm:
        assert len(agents_of(allowed(token))) == 5
    assert [(call.operation, call.table, call.keys) for call in warm.calls] == [
        ("GetItem", "Directory", "JOB#"),
        ("BatchGetItem", "Directory+Agents", f"USER#,MEMBERS#x{sources},CIACCESS#x{sources}"),
        ("Query", "Agents", "PROJECT#"),
    ]
    projects.cache_clear()  # a container that has not read the projects yet
    with counter.measure() as cold:
        assert len(agents_of(allowed(token))) == 5
    assert [(call.operation, call.keys) for call in cold.calls if call.keys.startswith("PROJECT#")] == [
        ("GetItem", "PROJECT#"),
        ("Query", "PROJECT#"),
        ("BatchGetItem", "PROJECT#"),
    ]  # kube once, for 4 agents


def test_an_unavailable_access_as_does_not_hide_the_next_authorisation(estate, api):
    agent = create_agent(api, estate.kube["id"], "modes")
    impersonating = create_agent(api, estate.kube["id"], "impersonating")
    assert (
        configure(
            agent["id"],
            {
                "ci_access": {
                    "projects": [{"id": "acme/team/web/app", "access_as": {"unknown_mode": {}}}],
                    "groups": [{"id": "acme", "access_as": {"agent": {}}}],
                }
            },
        ).status
        == 204
    )
    assert (
        configure(
            impersonating["id"], {"ci_access": {"projects": [{"id": "acme/team/web/app", "access_as": {"ci_job": {}}}]}}
        ).status
        == 204
    )
    assert agents_of(allowed(job_of(api, estate)["token"])) == {
        agent["id"]: {"access_as": {"agent": {}}},
        impersonating["id"]: {"access_as": {"ci_job": {}}},
    }


def test_personal_projects_get_no_group_authorisations(world, api):
    owner = world.user("sam")
    project = world.project("lab", owner=owner)
    configs = world.project("configs", owner=owner)
    agent = create_agent(owner.client, configs["id"], "home")
    assert (
        configure(agent["id"], {"ci_access": {"projects": [{"id": "sam/lab", "default_namespace": "lab"}]}}).status
        == 204
    )
    assert agents_of(allowed(start_job(api, project["id"], owner.id)["token"])) == {
        agent["id"]: {"default_namespace": "lab"}
    }


# ---------------------------------------------------------------- the job's filters
def test_environments_and_protected_branches_filter_after_the_choice(estate, api):
    app = estate.app["id"]
    production = create_agent(api, estate.kube["id"], "production")
    reviews = create_agent(api, estate.kube["id"], "reviews")
    protected = create_agent(api, estate.kube["id"], "protected")
    local = create_agent(api, app, "local")
    assert (
        configure(
            production["id"],
            {
                "ci_access": {
                    "projects": [{"id": "acme/team/web/app", "environments": ["production"]}],
                    "groups": [{"id": "acme"}],  # never used: the project entry is chosen first, then filtered
                }
            },
        ).status
        == 204
    )
    assert (
        configure(
            reviews["id"], {"ci_access": {"groups": [{"id": "acme/team", "environments": ["review/*", "dev"]}]}}
        ).status
        == 204
    )
    assert (
        configure(protected["id"], {"ci_access": {"groups": [{"id": "acme", "protected_branches_only": True}]}}).status
        == 204
    )

    def ids(**fields) -> set[int]:
        return set(agents_of(allowed(job_of(api, estate, **fields)["token"])))

    everywhere = {local["id"]}
    assert ids() == everywhere
    assert ids(environment={"name": "production"}) == everywhere | {production["id"]}
    assert ids(environment={"name": "staging"}) == everywhere
    assert ids(environment={"name": "review/feature-7"}) == everywhere | {reviews["id"]}
    assert ids(environment={"name": "dev"}) == everywhere | {reviews["id"]}
    assert ids(environment={"name": "development"}) == everywhere
    assert ids(ref_protected=True) == everywhere | {protected["id"]}
    assert ids(ref_protected=True, environment={"name": "production"}) == everywhere | {
        production["id"],
        protected["id"],
    }


def test_configuration_comes_back_in_gitlabs_jsonb_key_order(estate, api):
    agent = create_agent(api, estate.kube["id"], "ordered")
    entry = {
        "id": "acme/team/web/app",
        "protected_branches_only": False,
        "default_namespace": "ns",
        "environments": ["*"],
        "access_as": {"agent": {}},
    }
    assert configure(agent["id"], {"ci_access": {"projects": [entry]}}).status == 204
    response = allowed(job_of(api, estate, environment={"name": "prod"})["token"])
    configuration = response.json()["allowed_agents"][0]["configuration"]
    assert list(configuration) == ["access_as", "environments", "default_namespace", "protected_branches_only"]
    assert (
        '"configuration":{"access_as":{"agent":{}},"environments":["*"],"default_namespace":"ns",'
        '"protected_branches_only":false}' in response.text
    )


def test_sample_event(estate, api):
    import ci_jobs_app

    from devtools.apigw import LambdaContext

    event = json.loads((EVENTS / "ci_jobs" / "GetAllowedAgents.json").read_text())
    assert ci_jobs_app.lambda_handler(event, LambdaContext("CiJobsFunction"))["statusCode"] == 401
    token = job_of(api, estate)["token"]
    event["headers"]["JOB-TOKEN"] = token
    event["multiValueHeaders"]["JOB-TOKEN"] = [token]
    result = ci_jobs_app.lambda_handler(event, LambdaContext("CiJobsFunction"))
    assert result["statusCode"] == 200, result
    assert json.loads(result["body"])["project"]["id"] == estate.app["id"]


# ---------------------------------------------------------------- the rules, without AWS
def _reference_match(pattern: str, text: str) -> bool:
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), text, re.DOTALL) is not None


@given(st.text(alphabet="ab*/", max_size=8), st.text(alphabet="ab/", max_size=10))
def test_wildcard_matching_agrees_with_a_regular_expression(pattern, text):
    from cluster_agents.domain.ci_access import wildcard_match

    assert wildcard_match(pattern, text) == _reference_match(pattern, text)


def test_wildcard_matching_stays_linear_on_hostile_patterns():
    import time

    from cluster_agents.domain.ci_access import wildcard_match

    started = time.monotonic()
    assert not wildcard_match("*a" * 30 + "*b", "a" * 255)
    assert time.monotonic() - started < 1


def test_environment_patterns_as_gitlab_matches_them():
    from cluster_agents.domain.ci_access import environment_matches

    assert environment_matches("production", "production")
    assert not environment_matches("production", "production-eu")  # no *: the same name only
    assert environment_matches("review/*", "review/feature")
    assert environment_matches("review/*", "preview/x")  # GitLab's wildcard regex is unanchored
    assert environment_matches("*", "anything")
    assert environment_matches("prod.*", "prod.eu")
    assert not environment_matches("prod.*", "prod-eu")  # "." is a dot, not any character
    assert not environment_matches("", "production")
    assert not environment_matches("*", None)
    assert not environment_matches(5, "5")


def test_choice_and_filters_without_storage():
    from cluster_agents.domain.ci_access import Authorization, choose, filter_for_job

    project = Authorization(7, "project", {"environments": ["production"]})
    implicit = Authorization(7, "implicit")
    far = Authorization(7, "group", {"default_namespace": "far"}, group_id=1)
    near = Authorization(7, "group", {"default_namespace": "near"}, group_id=3)
    other = Authorization(2, "group", {"protected_branches_only": True}, group_id=1)
    unrelated = Authorization(9, "group", {}, group_id=42)  # not one of the project's groups
    groups = [far, near, other, unrelated]
    assert choose([], [], groups, [3, 2, 1]) == [other, near]
    assert choose([], [implicit], groups, [3, 2, 1]) == [implicit, other]
    assert choose([project], [implicit], groups, [3, 2, 1]) == [project, other]
    chosen = choose([project], [implicit], groups, [3, 2, 1])
    assert filter_for_job(chosen, None, True) == [other]
    assert filter_for_job(chosen, "production", False) == [project]
    assert filter_for_job(chosen, "production", True) == [project, other]


def test_jsonb_key_order():
    from cluster_agents.domain.ci_access import canonical_json, jsonb_ordered

    assert list(jsonb_ordered({"bb": 1, "a": 2, "ab": 3, "é": 4, "z": 5})) == ["a", "z", "ab", "bb", "é"]
    assert canonical_json({"b": [{"yy": 1, "x": 2}], "a": None}) == '{"a":null,"b":[{"x":2,"yy":1}]}'
