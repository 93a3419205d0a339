"""The GitLab world (SPEC §1, §5): authentication, roles, projects, members, error shapes."""

from __future__ import annotations

from testkit.client import ApiClient
from tests.conftest import ROOT_TOKEN


def test_root_token_works_in_each_credential_form(api):
    for auth in ("private-token", "bearer"):
        response = ApiClient(ROOT_TOKEN).get("/user", auth=auth)
        assert response.status == 200, auth
        assert response.json()["username"] == "root"
    response = ApiClient().get("/user", params={"private_token": ROOT_TOKEN})
    assert response.status == 200
    assert response.json()["is_admin"] is True


def test_unknown_or_missing_token_is_401(api):
    assert ApiClient().get("/user").json() == {"message": "401 Unauthorized"}
    response = ApiClient("glpat-nope").get("/user")
    assert (response.status, response.json()) == (401, {"message": "401 Unauthorized"})


def test_read_api_token_cannot_write(world):
    reader = world.user(scopes=["read_api"])
    assert reader.client.get("/user").status == 200
    response = reader.client.post("/projects", json_body={"name": "x"})
    assert response.status == 403
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": "The request requires higher privileges than provided by the access token.",
        "scope": "api",
    }


def test_expired_and_revoked_tokens(world, api):
    from cluster_agents.crypto import digest
    from cluster_agents.domain.models import PersonalAccessToken
    from cluster_agents.store.personal_access_tokens import personal_access_tokens
    from cluster_agents.store.users import users

    person = world.user()
    user = users().get(person.id)
    stale = PersonalAccessToken(
        id=9999,
        user_id=person.id,
        name="old",
        scopes=("api",),
        created_at="2000-01-01T00:00:00.000Z",
        expires_at="2000-01-02",
    )
    personal_access_tokens().create_pat(stale, digest("glpat-expired-token"), user)
    response = ApiClient("glpat-expired-token").get("/user")
    assert response.status == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "Token is expired. You can either do re-authorization or token refresh.",
    }

    token_id = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["api"]}).json()
    assert api.delete(f"/personal_access_tokens/{token_id['id']}").status == 204
    response = ApiClient(token_id["token"]).get("/user")
    assert response.status == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "Token was revoked. You have to re-authorize from the user.",
    }


def test_pat_expiry_in_the_past_is_refused(world, api):
    person = world.user()
    response = api.post(
        f"/users/{person.id}/personal_access_tokens",
        json_body={"name": "t", "scopes": ["api"], "expires_at": "2000-01-01"},
    )
    assert response.status == 400


def test_private_project_is_404_to_non_members(world):
    owner = world.user()
    stranger = world.user()
    project = world.project("secret", owner=owner)
    assert owner.client.get(f"/projects/{project['id']}").status == 200
    response = stranger.client.get(f"/projects/{project['id']}")
    assert (response.status, response.json()) == (404, {"message": "404 Project Not Found"})
    encoded = project["path_with_namespace"].replace("/", "%2F")
    assert owner.client.get(f"/projects/{encoded}").json()["id"] == project["id"]
    assert stranger.client.get(f"/projects/{encoded}").status == 404


def test_unknown_route_is_gitlab_404(api):
    response = api.get("/nothing/here")
    assert (response.status, response.json()) == (404, {"error": "404 Not Found"})


def test_jobs_and_their_pipelines_get_ids_counting_up(world, api):
    """A job without ``pipeline_id`` gets a new pipeline (its id and the job's come from one
    counter write); a given ``pipeline_id`` is kept and uses up no pipeline id."""
    project = world.project("pipelines")

    def start(**fields) -> dict:
        made = api.post("/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": 1, **fields})
        assert made.status == 201, made.text
        return made.json()

    first, second, given, third = start(), start(), start(pipeline_id=2323), start()
    assert [job["id"] for job in (second, given, third)] == [first["id"] + n for n in (1, 2, 3)]
    assert [job["pipeline"]["id"] for job in (first, second, given, third)] == [
        first["pipeline"]["id"],
        first["pipeline"]["id"] + 1,
        2323,
        first["pipeline"]["id"] + 2,
    ]
