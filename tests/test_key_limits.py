"""Keys built from client input stay within DynamoDB's limits (a partition key of 2,048 bytes, a
sort key of 1,024, in UTF-8): a lookup by a longer path finds nothing (the route's 404), a create
that would need one is refused with GitLab's validation message, and no route sends DynamoDB a
request it would refuse (``tests/dynamodb_limits.py`` makes moto refuse them too). Also: a page
number with 18 digits, and a private parent or namespace that the caller cannot see."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.dynamodb_limits import refusal

EURO_PATH = "€" * 690  # 690 characters, 2,070 bytes


# ---------------------------------------------------------------- the test-side guard itself
@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetItem", {"Key": {"pk": {"S": EURO_PATH}, "sk": {"S": "x"}}}),
        ("GetItem", {"Key": {"pk": {"S": "x"}, "sk": {"S": "s" * 1025}}}),
        ("BatchGetItem", {"RequestItems": {"t": {"Keys": [{"pk": {"S": "a"}, "sk": {"S": "s" * 1025}}]}}}),
        ("TransactWriteItems", {"TransactItems": [{"Put": {"Item": {"pk": {"S": "p" * 2049}, "sk": {"S": "x"}}}}]}),
        (
            "BatchWriteItem",
            {"RequestItems": {"t": [{"DeleteRequest": {"Key": {"pk": {"S": EURO_PATH}, "sk": {"S": "x"}}}}]}},
        ),
        ("Query", {"KeyConditionExpression": "pk = :pk", "ExpressionAttributeValues": {":pk": {"S": EURO_PATH}}}),
        (
            "Query",
            {
                "KeyConditionExpression": "#k = :v",
                "ExpressionAttributeNames": {"#k": "pk"},
                "ExpressionAttributeValues": {":v": {"S": EURO_PATH}},
            },
        ),
        (
            "Query",
            {
                "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
                "ExpressionAttributeValues": {":pk": {"S": "a"}, ":p": {"S": "s" * 1025}},
            },
        ),
        (
            "Query",
            {"KeyConditionExpression": "pk = :pk", "Limit": 2**31, "ExpressionAttributeValues": {":pk": {"S": "a"}}},
        ),
    ],
)
def test_the_guard_refuses_what_dynamodb_refuses(operation, params):
    assert refusal(operation, params)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("GetItem", {"Key": {"pk": {"S": "p" * 2048}, "sk": {"S": "€" * 341}}}),
        (
            "Query",
            {
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
                "Limit": 2**31 - 1,
                "ExpressionAttributeValues": {":pk": {"S": "p" * 2048}, ":low": {"S": "s" * 1024}, ":high": {"S": "s"}},
            },
        ),
    ],
)
def test_the_guard_lets_through_what_dynamodb_takes(operation, params):
    assert refusal(operation, params) is None


def test_the_guard_is_on_every_client_the_service_makes(aws):
    from botocore.exceptions import ClientError
    from cluster_agents.aws import client

    with pytest.raises(ClientError, match="Size of hashkey has exceeded"):
        client("dynamodb").get_item(TableName="any", Key={"pk": {"S": EURO_PATH}, "sk": {"S": "x"}})


# ---------------------------------------------------------------- lookups: the route's 404
@pytest.mark.parametrize("path", [EURO_PATH, EURO_PATH + "/x", "a" * 2100, "g/" + "é" * 1100, "p" * 3000 + "/x"])
def test_lookups_by_a_path_longer_than_a_key_are_404(api, world, path):
    encoded = quote(path, safe="")
    assert (api.get(f"/groups/{encoded}").status, api.get(f"/groups/{encoded}").json()) == (
        404,
        {"message": "404 Group Not Found"},
    )
    for route in (
        f"/projects/{encoded}",
        f"/projects/{encoded}/cluster_agents",
        f"/projects/{encoded}/members",
        f"/projects/{encoded}/cluster_agents/1/tokens",
    ):
        response = api.get(route)
        assert (response.status, response.json()) == (404, {"message": "404 Project Not Found"}), route
    response = api.get(f"/groups/{encoded}/members")
    assert (response.status, response.json()) == (404, {"message": "404 Group Not Found"})


def test_agent_configuration_with_paths_longer_than_a_key_ignores_them(api, world):
    from testkit.client import ApiClient
    from tests.test_kas import kas_jwt

    group = world.group("keys")
    project = world.project("infra", namespace_id=group["id"])
    agent = api.post(f"/projects/{project['id']}/cluster_agents", json_body={"name": "a"}).json()
    config = {
        "ci_access": {
            "projects": [{"id": "keys/" + EURO_PATH}, {"id": "keys/infra"}],
            "groups": [{"id": EURO_PATH}, {"id": "keys/" + "g" * 3000}, {"id": "keys"}],
        }
    }
    response = ApiClient().post(
        "/internal/kubernetes/agent_configuration",
        json_body={"agent_id": agent["id"], "agent_config": config},
        headers={"Gitlab-Kas-Api-Request": kas_jwt()},
    )
    assert response.status == 204, response.text


# ---------------------------------------------------------------- creates: GitLab's messages
def _validation(*messages: str) -> dict:
    return {"message": "400 Bad request - [" + ", ".join(f'"{m}"' for m in messages) + "]"}


@pytest.mark.parametrize("email", ["e" * 250 + "@example.com", EURO_PATH + "@example.com"])
def test_an_email_over_255_characters_is_refused(api, email):
    response = api.post("/users", json_body={"username": "long-mail", "name": "L", "email": email})
    assert (response.status, response.json()) == (400, _validation("Email is too long (maximum is 255 characters)"))


def test_a_user_name_over_255_characters_is_refused(api):
    response = api.post("/users", json_body={"username": "long-name", "name": "n" * 256, "email": "n@example.com"})
    assert (response.status, response.json()) == (400, _validation("Name is too long (maximum is 255 characters)"))


def test_groups_nest_at_most_20_levels_below_the_top(api, world):
    parent = world.group("n0")
    for _ in range(20):  # the 20th subgroup has 20 ancestors: GitLab's limit, still fine
        parent = world.group("n", parent_id=parent["id"])
    assert parent["full_path"].count("/") == 20
    response = api.post("/groups", json_body={"name": "deep", "path": "deep", "parent_id": parent["id"]})
    assert (response.status, response.json()) == (400, _validation("Parent has too deep level of nesting"))


def test_a_group_whose_full_path_is_over_255_characters_is_refused(api, world):
    parent = world.group("p" * 200)
    response = api.post("/groups", json_body={"name": "c", "path": "c" * 55, "parent_id": parent["id"]})
    assert (response.status, response.json()) == (400, _validation("Path is too long (maximum is 255 characters)"))
    assert api.post("/groups", json_body={"name": "c", "path": "c" * 54, "parent_id": parent["id"]}).status == 201


def test_a_group_name_over_255_characters_is_refused(api):
    response = api.post("/groups", json_body={"name": "n" * 256, "path": "long-name"})
    assert (response.status, response.json()) == (400, _validation("Name is too long (maximum is 255 characters)"))


def test_a_project_whose_full_path_is_over_255_characters_is_refused(api, world):
    group = world.group("q" * 250)
    response = api.post("/projects", json_body={"name": "n" * 256, "path": "abcde", "namespace_id": group["id"]})
    assert (response.status, response.json()) == (
        400,
        _validation("Name is too long (maximum is 255 characters)", "Path is too long (maximum is 255 characters)"),
    )
    assert api.post("/projects", json_body={"name": "abcd", "namespace_id": group["id"]}).status == 201


# ---------------------------------------------------------------- huge page numbers
HUGE_PAGE = "9" * 18


def test_a_page_far_past_the_end_is_empty_on_every_list(api, world):
    project = world.project("paged")
    base = f"/projects/{project['id']}/cluster_agents"
    agent = api.post(base, json_body={"name": "a"}).json()
    api.post(f"{base}/{agent['id']}/tokens", json_body={"name": "t"})
    group = world.group("paged-group")
    for route in (
        base,
        f"{base}/{agent['id']}/tokens",
        f"/projects/{project['id']}/members",
        f"/groups/{group['id']}/members",
    ):
        for per_page in ("1", "100"):
            response = api.get(route, params={"page": HUGE_PAGE, "per_page": per_page})
            assert (response.status, response.json()) == (200, []), (route, response.text)
            assert (response.headers["X-Page"], response.headers["X-Next-Page"]) == (HUGE_PAGE, ""), route
            assert int(response.headers["X-Total-Pages"]) >= 1 and response.headers["X-Prev-Page"] == "", route


def test_a_page_past_the_end_of_agents_reads_the_count_only(api, world):
    from testkit.counter import RoundTrips

    project = world.project("paged-agents")
    base = f"/projects/{project['id']}/cluster_agents"
    for name in ("a", "b", "c"):
        api.post(base, json_body={"name": name})
    with RoundTrips(capacity=False).measure() as calls:
        response = api.get(base, params={"page": HUGE_PAGE})
    assert (response.status, response.json(), response.headers["X-Total"]) == (200, [], "3")
    assert calls.operations()["dynamodb:Query"] == 1  # #STATS says 3: nothing to skip to


# ---------------------------------------------------------------- a parent the caller cannot see
def test_a_private_parent_group_the_caller_cannot_see_is_not_found(world):
    outsider = world.user()
    hidden = world.group("hidden", visibility="private")
    response = outsider.client.post("/groups", json_body={"name": "s", "path": "s", "parent_id": hidden["id"]})
    assert (response.status, response.json()) == (404, {"message": "404 Group Not Found"})
    response = outsider.client.post("/projects", json_body={"name": "s", "namespace_id": hidden["id"]})
    assert (response.status, response.json()) == (404, {"message": "404 Namespace Not Found"})
    seen = world.group("seen", visibility="internal")  # visible to every signed-in user: no role is 403
    response = outsider.client.post("/groups", json_body={"name": "s", "path": "s", "parent_id": seen["id"]})
    assert (response.status, response.json()) == (403, {"message": "403 Forbidden"})
    response = outsider.client.post("/projects", json_body={"name": "s", "namespace_id": seen["id"]})
    assert (response.status, response.json()) == (403, {"message": "403 Forbidden"})
