"""Personal access tokens a user makes for themselves (POST /user/personal_access_tokens), the
token of the request (GET /personal_access_tokens/self), last_used_at, expiry (SPEC §1.1, §7.4)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from testkit.client import ApiClient

OWN = "/user/personal_access_tokens"
SELF = "/personal_access_tokens/self"
KEYS = [
    "id",
    "name",
    "revoked",
    "created_at",
    "description",
    "scopes",
    "user_id",
    "last_used_at",
    "active",
    "expires_at",
]
TIMESTAMP = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def _today():
    from cluster_agents import clock

    return clock.today()


def _store_token(person, secret: str, **fields):
    """A token written straight to the store (the API refuses to make an expired one)."""
    from cluster_agents.crypto import digest
    from cluster_agents.domain.models import PersonalAccessToken
    from cluster_agents.store.personal_access_tokens import personal_access_tokens
    from cluster_agents.store.users import users

    token = PersonalAccessToken(
        **{
            "id": 700_000 + len(secret),
            "user_id": person.id,
            "name": "stored",
            "scopes": ("api",),
            "created_at": "2020-01-01T00:00:00.000Z",
            **fields,
        }
    )
    personal_access_tokens().create_pat(token, digest(secret), users().get(person.id))
    return token


# ---------------------------------------------------------------- creating one's own token
def test_a_user_creates_a_k8s_proxy_token_for_themselves(world):
    person = world.user()

    made = person.client.post(
        OWN, json_body={"name": "kubectl", "scopes": ["k8s_proxy"], "description": "for my laptop"}
    )

    assert made.status == 201, made.text
    body = made.json()
    assert list(body) == [*KEYS, "token"]
    assert body["name"] == "kubectl" and body["description"] == "for my laptop"
    assert (body["scopes"], body["user_id"], body["revoked"], body["active"]) == (["k8s_proxy"], person.id, False, True)
    assert body["last_used_at"] is None and TIMESTAMP.match(body["created_at"])
    assert body["expires_at"] == (_today() + timedelta(days=1)).isoformat()  # tomorrow, by default
    assert body["token"].startswith("glpat-") and len(body["token"]) > 20


@pytest.mark.parametrize("scopes", ["k8s_proxy", "k8s_proxy, k8s_proxy", ["k8s_proxy,k8s_proxy"]])
def test_scopes_may_be_a_comma_separated_string(world, scopes):
    made = world.user().client.post(OWN, json_body={"name": "t", "scopes": scopes})
    assert (made.status, made.json()["scopes"]) == (201, ["k8s_proxy"])


def test_form_parameters_work_too(world):
    person = world.user()
    for data in ({"name": "t", "scopes": "k8s_proxy"}, {"name": "t", "scopes[]": "k8s_proxy"}):
        made = person.client.post(OWN, data=data)
        assert (made.status, made.json()["scopes"]) == (201, ["k8s_proxy"]), data


def test_expiry_may_be_set_up_to_a_year_ahead_and_in_the_past(world):
    person = world.user()
    latest = _today() + timedelta(days=365)
    past = "2001-02-03"

    far = person.client.post(OWN, json_body={"name": "t", "scopes": ["k8s_proxy"], "expires_at": latest.isoformat()})
    old = person.client.post(OWN, json_body={"name": "t", "scopes": ["k8s_proxy"], "expires_at": past})
    default = person.client.post(OWN, json_body={"name": "t", "scopes": ["k8s_proxy"], "expires_at": None})

    assert (far.status, far.json()["expires_at"], far.json()["active"]) == (201, latest.isoformat(), True)
    assert (old.status, old.json()["expires_at"], old.json()["active"]) == (201, past, False)  # as GitLab
    assert default.json()["expires_at"] == (_today() + timedelta(days=1)).isoformat()
    expired = ApiClient(old.json()["token"]).get(SELF)
    assert (expired.status, expired.json()["error_description"]) == (
        401,
        "Token is expired. You can either do re-authorization or token refresh.",
    )


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "name is missing, scopes is missing"),
        ({"scopes": ["k8s_proxy"]}, "name is missing"),
        ({"name": "t"}, "scopes is missing"),
        ({"name": "t", "scopes": ["api"]}, "scopes does not have a valid value"),
        ({"name": "t", "scopes": "k8s_proxy,api"}, "scopes does not have a valid value"),
        ({"name": "t", "scopes": ["k8s_proxy", 7]}, "scopes does not have a valid value"),
        ({"name": "t", "scopes": None}, "scopes does not have a valid value"),
        ({"name": "t", "scopes": 7}, "scopes is invalid"),
        ({"name": "t", "scopes": {"a": "k8s_proxy"}}, "scopes is invalid"),
        ({"name": "t", "scopes": ["k8s_proxy"], "expires_at": "soon"}, "expires_at is invalid"),
        (
            {"scopes": ["api"], "expires_at": "soon"},
            "name is missing, scopes does not have a valid value, expires_at is invalid",
        ),
    ],
)
def test_parameter_errors_are_grapes(world, body, error):
    response = world.user().client.post(OWN, json_body=body)
    assert (response.status, response.json()) == (400, {"error": error})


def test_model_errors_are_422_in_one_sentence(world):
    person = world.user()
    latest = _today() + timedelta(days=365)
    too_far = (latest + timedelta(days=1)).isoformat()

    def refused(**body):
        response = person.client.post(OWN, json_body=body)
        assert response.status == 422, response.text
        return response.json()

    assert refused(name="", scopes=["k8s_proxy"]) == {"message": "Name can't be blank"}
    assert refused(name="   ", scopes=["k8s_proxy"]) == {"message": "Name can't be blank"}
    assert refused(name=None, scopes=["k8s_proxy"]) == {"message": "Name can't be blank"}
    assert refused(name="t", scopes=[]) == {"message": "Scopes can't be blank"}
    assert refused(name="t", scopes="") == {"message": "Scopes can't be blank"}
    assert refused(name="", scopes=[]) == {"message": "Name can't be blank and Scopes can't be blank"}
    assert refused(name="t", scopes=["k8s_proxy"], expires_at=too_far) == {
        "message": f"Expiration date must be before {latest.isoformat()}"
    }
    assert refused(name="", scopes=[], expires_at=too_far) == {
        "message": f"Name can't be blank, Scopes can't be blank, and Expiration date must be before {latest}"
    }


def test_nothing_is_stored_when_refused(world):
    person = world.user()
    assert person.client.post(OWN, json_body={"name": "", "scopes": ["k8s_proxy"]}).status == 422
    made = person.client.post(OWN, json_body={"name": "t", "scopes": ["k8s_proxy"]}).json()
    first = person.client.post(OWN, json_body={"name": "t", "scopes": ["k8s_proxy"]}).json()
    assert first["id"] == made["id"] + 1  # the refused request took no id


def test_only_an_api_token_may_create_one(world):
    for scopes, scope in (
        (["read_api"], "api"),
        (["read_user"], "read_user api read_api"),
        (["k8s_proxy"], "read_user api read_api"),
    ):
        response = world.user(scopes=scopes).client.post(OWN, json_body={"name": "t", "scopes": ["k8s_proxy"]})
        assert (response.status, response.json()["scope"]) == (403, scope), scopes
    anonymous = ApiClient().post(OWN, json_body={})
    assert (anonymous.status, anonymous.json()) == (401, {"message": "401 Unauthorized"})


def test_administrators_may_create_k8s_proxy_tokens_for_anyone(world, api):
    person = world.user()
    for scopes in (["k8s_proxy"], "k8s_proxy", "api,k8s_proxy"):
        made = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "t", "scopes": scopes})
        assert made.status == 201, made.text
        assert list(made.json()) == [*KEYS, "token"]
    refused = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["nope"]})
    assert (refused.status, refused.json()) == (400, {"error": "scopes does not have a valid value"})


# ---------------------------------------------------------------- the token of the request
@pytest.mark.parametrize("scopes", [["k8s_proxy"], ["api"], ["read_repository"], ["read_user", "sudo"]])
def test_any_token_reads_itself_whatever_its_scopes(world, scopes):
    person = world.user(scopes=scopes)

    response = person.client.get(SELF)

    assert response.status == 200, response.text
    body = response.json()
    assert list(body) == KEYS
    assert (body["scopes"], body["user_id"], body["active"], body["revoked"]) == (scopes, person.id, True, False)
    assert body["name"] == "test" and body["description"] is None and body["expires_at"] is None


def test_self_in_each_credential_form(world):
    person = world.user(scopes=["k8s_proxy"])
    for auth in ("private-token", "bearer"):
        assert person.client.get(SELF, auth=auth).status == 200, auth
    assert ApiClient().get(SELF, params={"private_token": person.token}).status == 200


def test_self_refuses_what_is_not_a_valid_token(world, api):
    person = world.user()
    revoked = api.post(f"/users/{person.id}/personal_access_tokens", json_body={"name": "t", "scopes": ["k8s_proxy"]})
    assert api.delete(f"/personal_access_tokens/{revoked.json()['id']}").status == 204
    _store_token(person, "glpat-expired-self-token", expires_at="2000-01-02")
    job = api.post("/admin/ci/jobs", json_body={"project_id": world.project()["id"], "user_id": person.id}).json()

    assert ApiClient().get(SELF).json() == {"message": "401 Unauthorized"}
    assert ApiClient("glpat-nothing").get(SELF).json() == {"message": "401 Unauthorized"}
    assert ApiClient(job["token"]).get(SELF, auth="job-token").json() == {"message": "401 Unauthorized"}
    assert ApiClient(revoked.json()["token"]).get(SELF).json() == {
        "error": "invalid_token",
        "error_description": "Token was revoked. You have to re-authorize from the user.",
    }
    assert ApiClient("glpat-expired-self-token").get(SELF).json() == {
        "error": "invalid_token",
        "error_description": "Token is expired. You can either do re-authorization or token refresh.",
    }


def test_a_token_expiring_today_has_expired(world):
    """GitLab compares ``expires_at <= now``: a token expiring on D is refused from D 00:00 UTC."""
    person = world.user()
    _store_token(person, "glpat-expires-today-000", expires_at=_today().isoformat())
    _store_token(person, "glpat-expires-tomorrow-00", expires_at=(_today() + timedelta(days=1)).isoformat())

    assert ApiClient("glpat-expires-today-000").get("/user").json()["error"] == "invalid_token"
    tomorrow = ApiClient("glpat-expires-tomorrow-00").get(SELF)
    assert (tomorrow.status, tomorrow.json()["active"]) == (200, True)


def test_self_shows_the_stored_last_use(world):
    from cluster_agents.crypto import digest
    from cluster_agents.store.personal_access_tokens import personal_access_tokens

    person = world.user(scopes=["k8s_proxy"])
    token, _ = personal_access_tokens().get_pat_by_digest(digest(person.token))
    assert personal_access_tokens().record_pat_use(digest(person.token), token)

    body = person.client.get(SELF).json()

    assert TIMESTAMP.match(body["last_used_at"]) and list(body) == KEYS


# ---------------------------------------------------------------- recording a use, throttled
def test_a_use_is_recorded_at_most_once_a_minute_and_never_backwards(world):
    from cluster_agents import clock
    from cluster_agents.crypto import digest
    from cluster_agents.store.personal_access_tokens import personal_access_tokens

    person = world.user(scopes=["k8s_proxy"])
    key = digest(person.token)
    start = clock.now()

    def stored():
        return personal_access_tokens().get_pat_by_digest(key)[0]

    assert personal_access_tokens().record_pat_use(key, stored(), start) is True
    assert stored().last_used_at == clock.iso(start)
    assert (
        personal_access_tokens().record_pat_use(key, stored(), start + timedelta(seconds=59)) is False
    )  # within the window
    stale = stored()
    assert personal_access_tokens().record_pat_use(key, stale, start + timedelta(seconds=61)) is True
    # a container that read the token before that write: its condition fails, nothing moves back
    assert personal_access_tokens().record_pat_use(key, stale, start + timedelta(seconds=62)) is False
    assert stored().last_used_at == clock.iso(start + timedelta(seconds=61))


def test_recording_a_use_never_recreates_a_token(world):
    from cluster_agents.domain.models import PersonalAccessToken
    from cluster_agents.store.personal_access_tokens import personal_access_tokens

    gone = PersonalAccessToken(
        id=1, user_id=1, name="gone", scopes=("k8s_proxy",), created_at="2020-01-01T00:00:00.000Z"
    )
    assert personal_access_tokens().record_pat_use("no-such-digest", gone) is False
    assert personal_access_tokens().get_pat_by_digest("no-such-digest") is None


def test_names_and_descriptions_longer_than_255_are_refused_not_failed(world, api):
    person = world.user()
    base = {"scopes": ["k8s_proxy"]}

    assert person.client.post(OWN, json_body={**base, "name": "n" * 255, "description": "d" * 255}).status == 201
    long_name = person.client.post(OWN, json_body={**base, "name": "n" * 256})
    huge = person.client.post(OWN, json_body={**base, "name": "t", "description": "d" * 900_000})
    admin = api.post(
        f"/users/{person.id}/personal_access_tokens",
        json_body={"name": "n" * 300_000, "scopes": ["api"], "description": "d" * 300_000},
    )

    assert (long_name.status, long_name.json()) == (422, {"message": "Name is too long (maximum is 255 characters)"})
    assert (huge.status, huge.json()) == (422, {"message": "Description is too long (maximum is 255 characters)"})
    assert (admin.status, admin.json()) == (
        400,
        {
            "message": '400 Bad request - ["Name is too long (maximum is 255 '
            'characters)", "Description is too long (maximum is 255 '
            'characters)"]'
        },
    )
