"""User access through an agent (SPEC §7.4): ``user_access`` in the agent's configuration, and
``POST /internal/kubernetes/authorize_proxy_user`` - its checks in GitLab's order, every message,
who is authorised through what, the 201 bodies, the PAT's throttled ``last_used_at``."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from testkit.client import ApiClient
from tests.test_kas import KAS_INVALID, configure, create_agent, kas_headers

PATH = "/internal/kubernetes/authorize_proxy_user"
AGENT_NOT_FOUND = {"message": "404 Not found"}
NO_USER = {"message": "400 Bad request - Unable to get user from request data"}
INVALID_SESSION = {"message": "401 Unauthorized - Invalid session"}
EXPIRED = {
    "error": "invalid_token",
    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
}
REVOKED = {"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."}
SCOPE = {
    "error": "insufficient_scope",
    "error_description": "The request requires higher privileges than provided by the access token.",
    "scope": "k8s_proxy",
}
NO_USER_ACCESS = {"message": "`user_access` keyword is not found in agent config file."}
NO_ACCESS_AS = {"message": "`access_as` is not found under the `user_access` keyword."}
NOT_ONCE = {"message": "`access_as` must exist only once under the `user_access` keyword."}
NOT_A_MEMBER = {"message": "You must be a member of `projects` or `groups` under the `user_access` keyword."}
FORBIDDEN = {"message": "403 Forbidden"}
AS_AGENT = {"access_as": {"agent": {}}}
ROLES = ["guest", "planner", "reporter", "developer", "maintainer", "owner"]


def authorize(body: Any, headers: dict[str, str] | None = None):
    return ApiClient().post(PATH, json_body=body, headers=kas_headers() if headers is None else headers)


def proxy_request(agent_id: int, token: str) -> dict[str, Any]:
    return {"agent_id": agent_id, "access_type": "personal_access_token", "access_key": token}


def answer(response) -> tuple[int, Any]:
    return response.status, response.json()


def roles(level: int) -> list[str]:
    return ROLES[: {10: 1, 15: 2, 20: 3, 30: 4, 40: 5, 50: 6}[level]]


def user_access_of(agent_id: int):
    from cluster_agents.store.ci_access import ci_access

    read = ci_access().read_agent(agent_id)
    assert read is not None
    return read.user_access


@pytest.fixture
def estate(world, api):
    """acme (top-level) > team > app; acme/kube holds the agent; other/outsider elsewhere;
    alice: a k8s_proxy PAT."""
    root = world.group("acme")
    team = world.group("team", parent_id=root["id"])
    other = world.group("other")
    config = world.project("kube", namespace_id=root["id"])
    app = world.project("app", namespace_id=team["id"])
    outsider = world.project("outsider", namespace_id=other["id"])
    agent = create_agent(api, config["id"], "proxy")
    alice = world.user("alice", scopes=["k8s_proxy"])
    return {
        "root": root,
        "team": team,
        "other": other,
        "config": config,
        "app": app,
        "outsider": outsider,
        "agent": agent,
        "alice": alice,
    }


def base(estate: dict, user=None) -> dict[str, Any]:
    user = user or estate["alice"]
    return {
        "agent": {"id": estate["agent"]["id"], "config_project": {"id": estate["config"]["id"]}},
        "user": {"id": user.id, "username": user.username},
    }


# ---------------------------------------------------------------- agent_configuration: user_access
def test_user_access_is_stored_with_the_configuration(estate):
    from cluster_agents.domain.user_access import GroupGrant, ProjectGrant, UserAccess

    agent = estate["agent"]["id"]
    config = {
        "user_access": {
            "access_as": {"user": {"x": 1}, "agent": {}},
            "projects": [
                {"id": "ACME/Team/App"},
                {"id": "other/outsider"},
                {"id": "acme/nope"},
                {"id": 7},
                "acme/kube",
                {"no": "id"},
                {"id": "acme/kube", "extra": 1},
            ],
            "groups": [{"id": "acme/TEAM"}, {"id": "other"}, {"id": "acme"}, {"id": ["acme"]}],
            "other": True,
        }
    }
    assert configure(agent, config).status == 204
    stored = user_access_of(agent)
    assert stored == UserAccess(
        config='{"access_as":{"user":{"x":1},"agent":{}}}',
        projects=(
            ProjectGrant(estate["config"]["id"], (estate["root"]["id"],)),
            ProjectGrant(estate["app"]["id"], (estate["team"]["id"], estate["root"]["id"])),
        ),
        groups=(GroupGrant(estate["root"]["id"]), GroupGrant(estate["team"]["id"], (estate["root"]["id"],))),
    )
    assert json.loads(stored.config) == {"access_as": {"agent": {}, "user": {"x": 1}}}


@pytest.mark.parametrize(
    ("section", "config"),
    [
        ({"projects": [{"id": "acme/kube"}]}, "{}"),
        ({"projects": [{"id": "acme/kube"}], "access_as": None}, '{"access_as":null}'),
        ({"groups": [{"id": "acme"}], "access_as": "agent"}, '{"access_as":"agent"}'),
    ],
)
def test_access_as_is_stored_as_given(estate, section, config):
    assert configure(estate["agent"]["id"], {"user_access": section}).status == 204
    assert user_access_of(estate["agent"]["id"]).config == config


@pytest.mark.parametrize(
    "agent_config",
    [
        {},
        {"user_access": None},
        {"user_access": []},
        {"user_access": {"access_as": {"agent": {}}}},
        {
            "user_access": {
                "access_as": {"agent": {}},
                "projects": [{"id": "other/outsider"}],
                "groups": [{"id": "other"}],
            }
        },
        {"user_access": {"access_as": {"agent": {}}, "projects": {"id": "acme/kube"}}},
    ],
)
def test_a_configuration_that_authorises_nothing_stores_none(estate, agent_config):
    agent = estate["agent"]["id"]
    assert configure(agent, {"user_access": {"access_as": {"agent": {}}, "groups": [{"id": "acme"}]}}).status == 204
    assert user_access_of(agent) is not None
    assert configure(agent, agent_config).status == 204
    assert user_access_of(agent) is None


def test_only_the_first_500_entries_count(estate):
    agent = estate["agent"]["id"]
    filler = [{"id": f"acme/missing{n}"} for n in range(500)]
    config = {
        "user_access": {
            "access_as": {"agent": {}},
            "projects": [*filler, {"id": "acme/kube"}],
            "groups": [*filler, {"id": "acme"}],
        }
    }
    assert configure(agent, config).status == 204
    assert user_access_of(agent) is None
    config["user_access"]["projects"] = [*filler[:499], {"id": "acme/kube"}]
    assert configure(agent, config).status == 204
    assert [p.id for p in user_access_of(agent).projects] == [estate["config"]["id"]]


def test_an_agent_of_a_personal_project_authorises_its_namespace_projects_and_no_group(world, api, estate):
    bob = world.user("bob")
    home = world.project("home", owner=bob)
    world.project("tools", owner=bob)
    agent = create_agent(api, home["id"], "personal")["id"]
    config = {
        "user_access": {
            "access_as": {"agent": {}},
            "projects": [{"id": "bob/tools"}, {"id": "acme/kube"}],
            "groups": [{"id": "acme"}],
        }
    }
    assert configure(agent, config).status == 204
    stored = user_access_of(agent)
    assert [(p.group_ids, p.owner_id) for p in stored.projects] == [((), bob.id)] and stored.groups == ()


def test_ci_access_and_user_access_are_replaced_together(estate):
    agent = estate["agent"]["id"]
    config = {
        "ci_access": {"groups": [{"id": "acme"}]},
        "user_access": {"access_as": {"agent": {}}, "groups": [{"id": "acme"}]},
    }
    assert configure(agent, config).status == 204
    from cluster_agents.store.ci_access import ci_access

    read = ci_access().read_agent(agent)
    assert set(read.current) == {("group", estate["root"]["id"])} and read.user_access is not None
    assert configure(agent, {"ci_access": {"groups": [{"id": "acme"}]}}).status == 204  # user_access goes alone
    read = ci_access().read_agent(agent)
    assert set(read.current) == {("group", estate["root"]["id"])} and read.user_access is None


def test_deleting_the_agent_deletes_its_user_access(estate, api, aws):
    import boto3
    from cluster_agents.ops.invariants import check_items

    from tests.tables import scan_all

    agent = estate["agent"]["id"]
    assert configure(agent, {"user_access": {"access_as": {"agent": {}}, "groups": [{"id": "acme"}]}}).status == 204
    items = list(scan_all(boto3.client("dynamodb"), aws.refs["AgentsTable"]))
    assert [i["sk"] for i in items if i["pk"] == f"AGENT#{agent}"] == ["A", "CA"]
    assert check_items(items).ok, check_items(items).violations
    assert api.delete(f"/projects/{estate['config']['id']}/cluster_agents/{agent}").status == 204
    items = list(scan_all(boto3.client("dynamodb"), aws.refs["AgentsTable"]))
    assert [i for i in items if i["pk"] == f"AGENT#{agent}"] == []
    assert check_items(items).ok, check_items(items).violations
    assert answer(authorize(proxy_request(agent, estate["alice"].token))) == (404, AGENT_NOT_FOUND)


def test_the_invariant_checker_finds_a_broken_user_access_item(estate, aws):
    import boto3
    from cluster_agents.ops.invariants import check_items

    from tests.tables import scan_all

    agent = estate["agent"]["id"]
    assert configure(agent, {"user_access": {"access_as": {"agent": {}}, "groups": [{"id": "acme"}]}}).status == 204
    items = list(scan_all(boto3.client("dynamodb"), aws.refs["AgentsTable"]))
    ua = next(i for i in items if i["sk"] == "CA")
    broken = [{**ua, "groups": []}, {**ua, "config": "[]"}, {**ua, "agent_id": agent + 1}]
    for item in broken:
        report = check_items([i for i in items if i is not ua] + [item])
        assert not report.ok, item
    orphan = [i for i in items if i["sk"] != "A" or i["pk"] != f"AGENT#{agent}"]
    assert not check_items(orphan).ok


# ---------------------------------------------------------------- authorize_proxy_user: the checks, in order
def test_the_kas_jwt_comes_first(estate):
    response = authorize({}, headers={})
    assert answer(response) == (401, KAS_INVALID)
    response = authorize(
        proxy_request(estate["agent"]["id"], estate["alice"].token), headers={"PRIVATE-TOKEN": estate["alice"].token}
    )
    assert answer(response) == (401, KAS_INVALID)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "agent_id is missing, access_type is missing, access_key is missing"),
        ({"access_type": "personal_access_token"}, "agent_id is missing, access_key is missing"),
        ({"agent_id": 1, "access_key": "x"}, "access_type is missing"),
        ({"agent_id": "one", "access_type": "personal_access_token", "access_key": "x"}, "agent_id is invalid"),
        ({"agent_id": True, "access_type": "personal_access_token", "access_key": "x"}, "agent_id is invalid"),
        ({"agent_id": 1, "access_type": "password", "access_key": "x"}, "access_type does not have a valid value"),
        ({"agent_id": 1, "access_type": "personal_access_token", "access_key": ["x"]}, "access_key is invalid"),
        ({"agent_id": 1, "access_type": "session_cookie", "access_key": "x"}, "csrf_token is missing"),
        ({"agent_id": 1, "access_type": "session_cookie", "access_key": "x", "csrf_token": ""}, "csrf_token is empty"),
        (
            {"agent_id": 1, "access_type": "session_cookie", "access_key": "x", "csrf_token": "  "},
            "csrf_token is empty",
        ),
        (
            {"agent_id": 1, "access_type": "session_cookie", "access_key": "x", "csrf_token": None},
            "csrf_token is empty",
        ),
        (
            {"agent_id": "x", "access_type": "session_cookie"},
            "agent_id is invalid, access_key is missing, csrf_token is missing",
        ),
    ],
)
def test_parameters(estate, body, error):
    assert answer(authorize(body)) == (400, {"error": error})


def test_csrf_token_is_ignored_without_a_session_cookie(estate):
    body = {**proxy_request(estate["agent"]["id"], "glpat-unknown"), "csrf_token": ""}
    assert answer(authorize(body)) == (400, NO_USER)


def test_a_session_cookie_matches_no_session(estate):
    body = {"agent_id": 999999, "access_type": "session_cookie", "access_key": "cookie", "csrf_token": "t"}
    assert answer(authorize(body)) == (401, INVALID_SESSION)


def test_form_parameters_are_read_too(estate):
    data = {"agent_id": str(estate["agent"]["id"]), "access_type": "personal_access_token", "access_key": ""}
    response = ApiClient().post(PATH, data=data, headers=kas_headers())
    assert answer(response) == (400, NO_USER)


@pytest.mark.parametrize("token", ["", "   ", "glpat-no-such-token-000000"])
def test_no_user_for_an_empty_or_unknown_token(estate, token):
    assert answer(authorize(proxy_request(estate["agent"]["id"], token))) == (400, NO_USER)
    assert answer(authorize(proxy_request(999999, token))) == (400, NO_USER)  # before the agent


def test_expired_revoked_and_scopes(world, api, estate):
    from cluster_agents import clock

    agent = estate["agent"]["id"]
    today = clock.today().isoformat()
    expired = world.user("expired", scopes=["k8s_proxy"], expires_at=today)  # expired from that day's 00:00 UTC
    assert answer(authorize(proxy_request(agent, expired.token))) == (401, EXPIRED)
    assert answer(authorize(proxy_request(999999, expired.token))) == (401, EXPIRED)
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    valid = world.user("valid", scopes=["k8s_proxy"], expires_at=tomorrow)
    assert answer(authorize(proxy_request(agent, valid.token))) == (403, NO_USER_ACCESS)

    revoked = world.user("revoked", scopes=["api"])
    made = api.post(f"/users/{revoked.id}/personal_access_tokens", json_body={"name": "k", "scopes": ["k8s_proxy"]})
    assert api.delete(f"/personal_access_tokens/{made.json()['id']}").status == 204
    assert answer(authorize(proxy_request(agent, made.json()["token"]))) == (401, REVOKED)

    for scopes in (["api"], ["read_api", "read_user"], ["api", "sudo", "admin_mode"]):
        person = world.user(scopes=scopes)
        assert answer(authorize(proxy_request(999999, person.token))) == (403, SCOPE)


def test_agent_not_found_after_the_user(estate):
    assert answer(authorize(proxy_request(999999, estate["alice"].token))) == (404, AGENT_NOT_FOUND)


# ---------------------------------------------------------------- the agent's configuration: 403s
@pytest.mark.parametrize(
    ("section", "error"),
    [
        (None, NO_USER_ACCESS),
        ({"groups": [{"id": "acme"}]}, NO_USER_ACCESS),  # stored as {}: not present
        ({"groups": [{"id": "acme"}], "access_as": None}, NO_ACCESS_AS),
        ({"groups": [{"id": "acme"}], "access_as": {}}, NO_ACCESS_AS),
        ({"groups": [{"id": "acme"}], "access_as": ""}, NO_ACCESS_AS),
        ({"groups": [{"id": "acme"}], "access_as": {"agent": {}, "user": {}}}, NOT_ONCE),
        ({"groups": [{"id": "acme"}], "access_as": "agent"}, NOT_ONCE),
        ({"groups": [{"id": "acme"}], "access_as": 5}, NOT_ONCE),
        ({"groups": [{"id": "acme"}], "access_as": {"ci_job": {}}}, FORBIDDEN),
        ({"groups": [{"id": "acme"}], "access_as": ["agent"]}, FORBIDDEN),
        ({"groups": [{"id": "acme"}], "access_as": {"agent": {}}}, NOT_A_MEMBER),
        ({"groups": [{"id": "acme"}], "access_as": {"user": {}}}, NOT_A_MEMBER),
    ],
)
def test_refusals_in_order(estate, section, error):
    agent = estate["agent"]["id"]
    assert configure(agent, {"user_access": section} if section is not None else {}).status == 204
    assert answer(authorize(proxy_request(agent, estate["alice"].token))) == (403, error)


# ---------------------------------------------------------------- who is authorised
def configure_user_access(estate, access_as: str = "agent", projects=(), groups=()) -> None:
    section = {
        "access_as": {access_as: {}},
        "projects": [{"id": p} for p in projects],
        "groups": [{"id": g} for g in groups],
    }
    assert configure(estate["agent"]["id"], {"user_access": section}).status == 204


@pytest.mark.parametrize(
    ("kind", "where", "level", "authorised"),
    [
        ("project", "app", 30, True),
        ("project", "app", 20, False),
        ("group", "team", 30, True),  # the project's group: inherited
        ("group", "root", 40, True),  # an ancestor of the project's group
        ("group", "other", 50, False),
    ],
)
def test_through_a_project(world, estate, kind, where, level, authorised):
    configure_user_access(estate, projects=["acme/team/app"])
    world.member(kind, estate[where]["id"], estate["alice"], level)
    expected = (201, {**base(estate), **AS_AGENT}) if authorised else (403, NOT_A_MEMBER)
    assert answer(authorize(proxy_request(estate["agent"]["id"], estate["alice"].token))) == expected


@pytest.mark.parametrize(
    ("kind", "where", "level", "authorised"),
    [
        ("group", "team", 30, True),
        ("group", "root", 30, True),  # a direct member of an ancestor
        ("group", "team", 20, False),
        ("project", "app", 50, False),  # a project inside does not count
    ],
)
def test_through_a_group(world, estate, kind, where, level, authorised):
    configure_user_access(estate, groups=["acme/team"])
    world.member(kind, estate[where]["id"], estate["alice"], level)
    expected = (201, {**base(estate), **AS_AGENT}) if authorised else (403, NOT_A_MEMBER)
    assert answer(authorize(proxy_request(estate["agent"]["id"], estate["alice"].token))) == expected


def test_membership_of_a_subgroup_does_not_authorise_through_its_parent(world, estate):
    configure_user_access(estate, groups=["acme"])
    world.member("group", estate["team"]["id"], estate["alice"], 50)
    assert answer(authorize(proxy_request(estate["agent"]["id"], estate["alice"].token))) == (403, NOT_A_MEMBER)


def test_an_expired_membership_does_not_count(world, api, estate):
    """(The members API refuses a past expiry date; a membership that has since expired is written
    as the store holds it.)"""
    from cluster_agents.domain.models import Membership
    from cluster_agents.store.memberships import memberships
    from cluster_agents.store.users import users

    configure_user_access(estate, projects=["acme/team/app"])
    alice = estate["alice"]
    expired = Membership("project", estate["app"]["id"], alice.id, 30, "2000-01-01T00:00:00.000Z", "2001-01-01")
    memberships().add(expired, users().get(alice.id))
    assert answer(authorize(proxy_request(estate["agent"]["id"], alice.token))) == (403, NOT_A_MEMBER)


def test_as_user_lists_every_project_and_group_with_the_roles(world, api, estate):
    sibling = world.project("site", namespace_id=estate["team"]["id"])
    configure_user_access(
        estate, "user", projects=["acme/team/site", "acme/team/app", "acme/kube"], groups=["acme/team", "acme"]
    )
    alice = estate["alice"]
    world.member("project", estate["app"]["id"], alice, 40)
    world.member("group", estate["team"]["id"], alice, 30)
    world.member("project", estate["config"]["id"], alice, 20)
    response = authorize(proxy_request(estate["agent"]["id"], alice.token))
    projects = sorted([(estate["app"]["id"], 40), (sibling["id"], 30)])
    assert answer(response) == (
        201,
        {
            **base(estate),
            "access_as": {
                "user": {
                    "projects": [{"id": pid, "roles": roles(level)} for pid, level in projects],
                    "groups": [{"id": estate["team"]["id"], "roles": roles(30)}],
                }
            },
        },
    )
    assert list(response.json()) == ["agent", "user", "access_as"]


def test_an_administrator_is_authorised_through_everything_as_owner(world, estate):
    configure_user_access(estate, "user", projects=["acme/team/app"], groups=["acme"])
    admin = world.user("boss", scopes=["k8s_proxy"], admin=True)
    response = authorize(proxy_request(estate["agent"]["id"], admin.token))
    assert answer(response) == (
        201,
        {
            **base(estate, admin),
            "access_as": {
                "user": {
                    "projects": [{"id": estate["app"]["id"], "roles": ROLES}],
                    "groups": [{"id": estate["root"]["id"], "roles": ROLES}],
                }
            },
        },
    )


def test_the_owner_of_a_personal_project(world, api):
    stranger = world.user("stranger", scopes=["k8s_proxy"])
    owner = world.user("carol")
    project = world.project("home", owner=owner)
    agent = create_agent(api, project["id"], "personal")["id"]
    assert (
        configure(agent, {"user_access": {"access_as": {"user": {}}, "projects": [{"id": "carol/home"}]}}).status == 204
    )
    assert answer(authorize(proxy_request(agent, stranger.token))) == (403, NOT_A_MEMBER)
    token = api.post(f"/users/{owner.id}/personal_access_tokens", json_body={"name": "k", "scopes": ["k8s_proxy"]})
    assert token.status == 201, token.text
    response = authorize(proxy_request(agent, token.json()["token"]))
    assert answer(response) == (
        201,
        {
            "agent": {"id": agent, "config_project": {"id": project["id"]}},
            "user": {"id": owner.id, "username": owner.username},
            "access_as": {"user": {"projects": [{"id": project["id"], "roles": ROLES}], "groups": []}},
        },
    )


# ---------------------------------------------------------------- the token's use
def _pat_item(aws, token: str) -> dict:
    import boto3
    from cluster_agents.crypto import digest
    from cluster_agents.store.dynamo import from_item

    return from_item(
        boto3.client("dynamodb").get_item(
            TableName=aws.refs["DirectoryTable"],
            Key={"pk": {"S": f"PAT#{digest(token)}"}, "sk": {"S": "PAT"}},
            ConsistentRead=True,
        )["Item"]
    )


def test_a_use_is_recorded_at_most_once_a_minute(world, estate, aws):
    from testkit.counter import RoundTrips

    alice = estate["alice"]
    assert "last_used_at" not in _pat_item(aws, alice.token)
    assert authorize(proxy_request(estate["agent"]["id"], alice.token)).status == 403  # a refusal records it too
    first = _pat_item(aws, alice.token)["last_used_at"]
    assert first.endswith("Z") and len(first) == len("2026-01-01T00:00:00.000Z")
    with RoundTrips().measure() as calls:
        assert authorize(proxy_request(estate["agent"]["id"], alice.token)).status == 403
    assert "UpdateItem" not in [call.operation for call in calls.calls]
    assert _pat_item(aws, alice.token)["last_used_at"] == first


def test_an_older_use_is_overwritten_and_a_busy_store_never_fails_the_request(world, estate, aws, monkeypatch):
    import boto3
    from cluster_agents.crypto import digest
    from cluster_agents.errors import StoreBusy
    from cluster_agents.store.personal_access_tokens import PersonalAccessTokenRepository

    alice = estate["alice"]
    boto3.client("dynamodb").update_item(
        TableName=aws.refs["DirectoryTable"],
        Key={"pk": {"S": f"PAT#{digest(alice.token)}"}, "sk": {"S": "PAT"}},
        UpdateExpression="SET last_used_at = :old",
        ExpressionAttributeValues={":old": {"S": "2001-01-01T00:00:00.000Z"}},
    )
    assert authorize(proxy_request(estate["agent"]["id"], alice.token)).status == 403
    assert _pat_item(aws, alice.token)["last_used_at"] > "2001-01-01T00:00:00.000Z"

    def busy(*args, **kwargs):
        raise StoreBusy(throttled=True)

    monkeypatch.setattr(PersonalAccessTokenRepository, "record_pat_use", busy)
    assert answer(authorize(proxy_request(estate["agent"]["id"], alice.token))) == (403, NO_USER_ACCESS)


def test_the_personal_access_token_reads_its_last_use(world, estate):
    from cluster_agents.crypto import digest
    from cluster_agents.store.personal_access_tokens import personal_access_tokens

    alice = estate["alice"]
    assert personal_access_tokens().get_pat_by_digest(digest(alice.token))[0].last_used_at is None
    authorize(proxy_request(estate["agent"]["id"], alice.token))
    assert personal_access_tokens().get_pat_by_digest(digest(alice.token))[0].last_used_at is not None


# ---------------------------------------------------------------- the rules alone (no AWS)
def test_the_rules_without_a_store():
    from cluster_agents.domain import user_access as rules
    from cluster_agents.domain.models import Membership, User

    grants = rules.UserAccess(
        '{"access_as":{"user":{}}}',
        projects=(rules.ProjectGrant(9, (3, 1)), rules.ProjectGrant(4, (), owner_id=7)),
        groups=(rules.GroupGrant(3, (1,)),),
    )
    assert rules.refusal(grants) is None and rules.mode(grants) == "user"
    assert rules.membership_sources(grants) == [("project", 9), ("group", 3), ("group", 1), ("project", 4)]
    alice = User(7, "alice", "Alice", "a@example.com", False, "2020-01-01T00:00:00.000Z")

    def member(kind: str, source: int, level: int, expires: str | None = None) -> Membership:
        return Membership(kind, source, 7, level, "2020-01-01T00:00:00.000Z", expires)

    found = rules.authorized(alice, grants, [member("group", 1, 30), member("project", 9, 40)], "2026-01-01")
    assert [(a.kind, a.id, int(a.level)) for a in found] == [("project", 4, 50), ("project", 9, 40), ("group", 3, 30)]
    found = rules.authorized(alice, grants, [member("group", 1, 30, expires="2025-12-31")], "2026-01-01")
    assert [(a.kind, a.id) for a in found] == [("project", 4)]
    assert rules.config_paths(
        {"user_access": {"projects": [{"id": "A/B"}, {"id": "a/b"}, {"id": 1}, "x"]}}, "projects"
    ) == ["a/b"]
    assert rules.stored_config({"user_access": {"projects": []}}) == "{}"
    assert (
        rules.stored_config({"user_access": {"access_as": {"b": 1, "aa": 2, "c": [{"yy": 1, "x": 2}]}}})
        == '{"access_as":{"b":1,"c":[{"x":2,"yy":1}],"aa":2}}'
    )  # jsonb key order
