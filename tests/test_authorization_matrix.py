"""The authorization matrix: every route x every kind of caller, one request per cell, its status
and exact body asserted (the table and the rules: tests/authorization_table.py). The same table
generates docs/authorization.md; a test fails when the committed page differs from it.

One scene per module (and per xdist worker): a private project in a subgroup of a private group,
a private sibling group, a public project in a public group, a person per role (member of the
private project and of the sibling group with that role), a Maintainer of the top group, an
admin, an outsider, and the broken credentials (revoked, expired, read_api, a job token)."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from testkit.client import ApiClient
from testkit.container import reset_caches
from testkit.kas import kas_jwt
from testkit.world import World
from tests import authorization_table as table
from tests.conftest import KAS_SECRET, ROOT_TOKEN

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "authorization.md"
OPENAPI = ROOT / "docs" / "openapi.json"


# ---------------------------------------------------------------- the scene
class MatrixScene:
    """Implements ``authorization_table.Scene``: the shared records, and fresh ones on demand."""

    missing = 987654

    def __init__(self, root: ApiClient) -> None:
        self.root = root
        self.world = World(root)
        self._seq = itertools.count(1)
        self._shared: dict[tuple[str, int], Any] = {}

    # ------------------------------------------------------------ helpers for rows
    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self._seq)}"

    def _ok(self, response, status: int = 201) -> Any:
        assert response.status == status, response.text
        return response.json() if response.text else None

    def _new_agent(self, project: dict, name: str | None = None) -> int:
        made = self.root.post(f"/projects/{project['id']}/cluster_agents", json_body={"name": name or self.unique("a")})
        return self._ok(made)["id"]

    def _new_token(self, project: dict, agent: int) -> dict:
        return self._ok(
            self.root.post(
                f"/projects/{project['id']}/cluster_agents/{agent}/tokens", json_body={"name": self.unique("t")}
            )
        )

    def _new_configuration(self, project: dict, agent: int) -> int:
        made = self.root.post(
            f"/projects/{project['id']}/cluster_agents/{agent}/url_configurations",
            json_body={"url": "grpcs://agent.example.com:443"},
        )
        return self._ok(made)["id"]

    def _once(self, key: tuple[str, int], make) -> Any:
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]

    def shared_agent(self, project: dict) -> int:
        return self._once(("agent", project["id"]), lambda: self._new_agent(project, "shared"))

    def shared_token(self, project: dict) -> tuple[int, int]:
        agent = self.shared_agent(project)
        return agent, self._once(("token", project["id"]), lambda: self._new_token(project, agent)["id"])

    def shared_url_configuration(self, project: dict) -> tuple[int, int]:
        agent = self.shared_agent(project)
        return agent, self._once(("configuration", project["id"]), lambda: self._new_configuration(project, agent))

    def fresh_agent(self, project: dict) -> int:
        return self._new_agent(project)

    def fresh_token(self, project: dict) -> tuple[int, int]:
        agent = self._new_agent(project)
        return agent, self._new_token(project, agent)["id"]

    def fresh_url_configuration(self, project: dict) -> tuple[int, int]:
        agent = self._new_agent(project)
        return agent, self._new_configuration(project, agent)

    def fresh_user(self) -> int:
        name = self.unique("someone")
        return self._ok(
            self.root.post("/users", json_body={"username": name, "name": name, "email": f"{name}@example.com"})
        )["id"]

    def fresh_member(self, kind: str, source_id: int) -> int:
        user = self.fresh_user()
        self._ok(
            self.root.post(f"/{kind}s/{source_id}/members", json_body={"user_id": user, "access_level": table.REPORTER})
        )
        return user

    def fresh_victim_pat(self) -> int:
        return self._ok(
            self.root.post(
                f"/users/{self.victim.id}/personal_access_tokens", json_body={"name": "victim", "scopes": ["api"]}
            )
        )["id"]

    def fresh_job(self) -> dict:
        return self._ok(
            self.root.post(
                "/admin/ci/jobs",
                json_body={"project_id": self.private_project["id"], "user_id": self.people["developer"].id},
            )
        )

    def job_project(self) -> dict:
        return self.private_project

    def job_user(self) -> int:
        return self.people["developer"].id

    def kas_agent(self) -> int:
        return self.kas.agent

    def kas_project(self) -> dict:
        return self.private_project

    # ------------------------------------------------------------ building it
    def build(self) -> MatrixScene:
        from cluster_agents.crypto import digest
        from cluster_agents.domain.models import PersonalAccessToken
        from cluster_agents.store.personal_access_tokens import personal_access_tokens
        from cluster_agents.store.users import users

        w = self.world
        top = w.group("acme")
        subgroup = w.group("infra", parent_id=top["id"])
        self.private_group = w.group("team", parent_id=top["id"])
        self.public_group = w.group("open", visibility="public")
        self.private_project = w.project("private-app", namespace_id=subgroup["id"])
        self.public_project = w.project("public-app", namespace_id=self.public_group["id"], visibility="public")
        pid, gid = self.private_project["id"], self.private_group["id"]

        people: dict[str, Any] = {}
        for caller in table.USER_CALLERS:
            if caller.key in ("guest", "planner", "reporter", "developer", "maintainer", "owner"):
                people[caller.key] = w.user(caller.key)
                w.member("project", pid, people[caller.key], caller.level)
                w.member("group", gid, people[caller.key], caller.level)
        people["maintainer_group"] = w.user("ancestor-maintainer")
        w.member("group", top["id"], people["maintainer_group"], table.MAINTAINER)
        people["admin"] = w.user("administrator", admin=True)
        people["nonmember_private"] = people["nonmember_public"] = w.user("outsider")
        people["read_api"] = w.user("reader", scopes=["read_api"])
        people["read_user"] = w.user("profile-reader", scopes=["read_user"])
        people["k8s_proxy"] = w.user("kubectl", scopes=["k8s_proxy"])
        for person in (people["read_api"], revoked := w.user("revoked"), expired := w.user("expired")):
            w.member("project", pid, person, table.MAINTAINER)
            w.member("group", gid, person, table.MAINTAINER)
        pat = self._ok(
            self.root.post(
                f"/users/{revoked.id}/personal_access_tokens", json_body={"name": "soon revoked", "scopes": ["api"]}
            )
        )
        self._ok(self.root.delete(f"/personal_access_tokens/{pat['id']}"), 204)
        stale = PersonalAccessToken(
            id=900001,
            user_id=expired.id,
            name="old",
            scopes=("api",),
            created_at="2000-01-01T00:00:00.000Z",
            expires_at="2000-01-02",
        )
        personal_access_tokens().create_pat(stale, digest("glpat-expired-matrix-token"), users().get(expired.id))
        self.people = people
        self.victim = w.user("victim")
        job = self.fresh_job()
        self.tokens = {
            **{key: person.token for key, person in people.items()},
            "unknown_token": "glpat-unknown-matrix-token",
            "revoked_pat": pat["token"],
            "expired_pat": "glpat-expired-matrix-token",
            "job_token": job["token"],
        }
        # Every shared record exists before the first cell (a cell never creates one by accident).
        for project in (self.private_project, self.public_project):
            self.shared_token(project)
            self.shared_url_configuration(project)
        self._build_jobs()
        self._build_kas()
        return self

    def _build_jobs(self) -> None:
        running, finished = self.fresh_job(), self.fresh_job()
        self._ok(
            ApiClient(finished["token"]).put(
                f"/jobs/{finished['id']}", json_body={"state": "success"}, auth="job-token"
            ),
            200,
        )
        self.jobs = SimpleNamespace(running=running, finished=finished)

    def _build_kas(self) -> None:
        project = self.private_project
        agent = self._new_agent(project, "kas")
        active, revoked = self._new_token(project, agent), self._new_token(project, agent)
        self._ok(self.root.delete(f"/projects/{project['id']}/cluster_agents/{agent}/tokens/{revoked['id']}"), 204)
        doomed = self._new_agent(project, "doomed")
        orphan = self._new_token(project, doomed)
        self._ok(self.root.delete(f"/projects/{project['id']}/cluster_agents/{doomed}"), 204)
        self.kas = SimpleNamespace(
            agent=agent, active=active["token"], revoked=revoked["token"], orphan=orphan["token"]
        )
        # authorize_proxy_user: an agent whose user_access names the project, and a Developer's k8s_proxy PAT
        proxy = self._new_agent(project, "proxy")
        config = {"user_access": {"access_as": {"agent": {}}, "projects": [{"id": project["path_with_namespace"]}]}}
        self._ok(
            ApiClient().post(
                "/internal/kubernetes/agent_configuration",
                json_body={"agent_id": proxy, "agent_config": config},
                headers={"Gitlab-Kas-Api-Request": kas_jwt()},
            ),
            204,
        )
        user = self.world.user("proxied", scopes=["k8s_proxy"])
        self.world.member("project", project["id"], user, table.DEVELOPER)
        self.proxy = {"agent_id": proxy, "access_type": "personal_access_token", "access_key": user.token}

    def proxy_request(self) -> dict:
        return self.proxy

    # ------------------------------------------------------------ where a caller acts
    def target(self, caller: table.Caller, fresh: bool) -> table.Target:
        if caller.public_target:
            return table.Target(self.public_project, self.public_group, fresh)
        return table.Target(self.private_project, self.private_group, fresh)


@pytest.fixture(scope="module")
def scene():
    """moto with the template's tables and keys, seeded, for the whole module (one per worker)."""
    import boto3
    from cluster_agents.bootstrap import seed_root
    from moto import mock_aws

    from devtools.template import create_resources

    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        resources = create_resources(boto3.session.Session())
        for key, value in resources.function_environment().items():
            patch.setenv(key, value)
        patch.setenv("KAS_SECRET", KAS_SECRET)
        reset_caches()
        seed_root(ROOT_TOKEN)
        try:
            yield MatrixScene(ApiClient(ROOT_TOKEN)).build()
        finally:
            reset_caches()


# ---------------------------------------------------------------- asserting one cell
def assert_cell(response, expected: table.Outcome, cell: str) -> None:
    got = (response.status, response.text)
    assert response.status == expected.status, f"{cell}: expected {expected.label}, got {got}"
    if expected.status == 204 or expected.empty:
        assert response.text == "", cell
        return
    if expected.success and expected.media_type != "application/json":
        assert response.headers.get("Content-Type", "").startswith(expected.media_type), (cell, response.headers)
        return
    assert response.headers.get("Content-Type") == "application/json", (cell, response.headers)
    body = response.json()
    if expected.body is not None:
        assert body == expected.body, f"{cell}: expected {expected.body}, got {body}"
    else:
        assert isinstance(body, dict | list), cell


def _send(request: table.Request, headers: dict[str, str], params: dict[str, str] | None = None):
    merged_params = {**(request.params or {}), **(params or {})} or None
    return ApiClient().request(
        request.method,
        request.path,
        json_body=request.json,
        params=merged_params,
        headers={**request.headers, **headers},
    )


# ---------------------------------------------------------------- user routes
def _user_credentials(scene: MatrixScene, caller: table.Caller) -> dict[str, str]:
    if caller.key == "anonymous":
        return {}
    if caller.key == "job_token":
        return {"JOB-TOKEN": scene.tokens["job_token"]}
    return {"PRIVATE-TOKEN": scene.tokens[caller.key]}


USER_CELLS = [(route, caller) for route in table.USER_ROUTES for caller in table.USER_CALLERS]


@pytest.mark.parametrize(
    ("route", "caller"), USER_CELLS, ids=[f"{route.name} | {caller.key}" for route, caller in USER_CELLS]
)
def test_user_route(scene, route: table.UserRoute, caller: table.Caller):
    expected = route.expected(caller)
    request = route.build(scene, scene.target(caller, fresh=expected.success))
    assert_cell(_send(request, _user_credentials(scene, caller)), expected, f"{route.name} as {caller.title}")


def test_a_job_token_as_bearer_is_no_personal_token_either(scene):
    response = ApiClient(scene.tokens["job_token"]).get(
        f"/projects/{scene.private_project['id']}/cluster_agents", auth="bearer"
    )
    assert_cell(response, table.UNAUTHORIZED, "job token as Bearer")


# ---------------------------------------------------------------- CI job routes
def _job_request(
    scene: MatrixScene, route: table.JobRoute, caller: table.JobCaller
) -> tuple[table.Request, dict, dict | None]:
    """(request, headers, query parameters) of one job-route cell."""
    running = caller.key in table.RUNNING_JOB
    if route.method == "GET":
        job = scene.jobs.running
        request = table.Request("GET", "/job/allowed_agents")
    else:
        # The job the token belongs to: fresh for a running token (the call finishes it).
        own = scene.fresh_job() if running else scene.jobs.running
        if caller.key == "finished_job":
            own = scene.jobs.finished
        job = own
        path_job = scene.jobs.running if route.note else own
        if route.note and path_job["id"] == own["id"]:
            path_job = scene.fresh_job()
        body = {"state": "success"}
        if caller.key == "job_token_param":
            body["token"] = job["token"]
        request = table.Request("PUT", f"/jobs/{path_job['id']}", json=body)
    token = scene.jobs.finished["token"] if caller.key == "finished_job" else job["token"]
    developer = scene.people["developer"].token
    match caller.key:
        case "anonymous":
            return request, {}, None
        case "unknown_job_token":
            return request, {"JOB-TOKEN": "glcbt-unknown-matrix-token"}, None
        case "job_token_header" | "finished_job":
            return request, {"JOB-TOKEN": token}, None
        case "job_token_bearer":
            return request, {"Authorization": f"Bearer {token}"}, None
        case "job_token_param":
            return request, {}, ({"job_token": token} if route.method == "GET" else None)
        case "pat":
            return request, {"PRIVATE-TOKEN": developer}, None
        case "pat_as_job_token":
            return request, {"JOB-TOKEN": developer}, None
        case _:
            return request, {"PRIVATE-TOKEN": scene.tokens[caller.key]}, None


JOB_CELLS = [(route, caller) for route in table.JOB_ROUTES for caller in table.JOB_CALLERS]


@pytest.mark.parametrize(
    ("route", "caller"), JOB_CELLS, ids=[f"{route.name} | {caller.key}" for route, caller in JOB_CELLS]
)
def test_job_route(scene, route: table.JobRoute, caller: table.JobCaller):
    request, headers, params = _job_request(scene, route, caller)
    assert_cell(_send(request, headers, params), route.expected(caller), f"{route.name} as {caller.title}")


# ---------------------------------------------------------------- agent server routes
def _kas_headers(scene: MatrixScene, caller: table.KasCaller) -> dict[str, str]:
    now = int(time.time())
    good = kas_jwt()
    match caller.key:
        case "nothing":
            return {}
        case "agent_token_only":
            return {"Authorization": f"Bearer {scene.kas.active}"}
        case "admin_pat":
            return {"PRIVATE-TOKEN": scene.tokens["admin"]}
        case "forged_jwt":
            return {"Gitlab-Kas-Api-Request": kas_jwt(secret=b"f" * 32), "Authorization": f"Bearer {scene.kas.active}"}
        case "expired_jwt":
            return {
                "Gitlab-Kas-Api-Request": kas_jwt(exp=now - 60, nbf=now - 120),
                "Authorization": f"Bearer {scene.kas.active}",
            }
        case "hs512_jwt":
            return {"Gitlab-Kas-Api-Request": kas_jwt(algorithm="HS512"), "Authorization": f"Bearer {scene.kas.active}"}
        case "unsigned_jwt":
            unsigned = jwt.encode({"iss": "gitlab-kas", "aud": "gitlab", "exp": now + 5}, None, algorithm="none")
            return {"Gitlab-Kas-Api-Request": unsigned, "Authorization": f"Bearer {scene.kas.active}"}
        case "jwt_only":
            return {"Gitlab-Kas-Api-Request": good}
        case "unknown_agent_token":
            return {"Gitlab-Kas-Api-Request": good, "Authorization": "Bearer glagent-" + "u" * 50}
        case "revoked_agent_token":
            return {"Gitlab-Kas-Api-Request": good, "Authorization": f"Bearer {scene.kas.revoked}"}
        case "deleted_agent_token":
            return {"Gitlab-Kas-Api-Request": good, "Authorization": f"Bearer {scene.kas.orphan}"}
        case "agent_token":
            return {"Gitlab-Kas-Api-Request": good, "Authorization": f"Bearer {scene.kas.active}"}
        case "agentk_header":
            return {"Gitlab-Kas-Api-Request": good, "Gitlab-Agentk-Api-Request": scene.kas.active}
    raise AssertionError(caller.key)


KAS_CELLS = [(route, caller) for route in table.KAS_ROUTES for caller in table.KAS_CALLERS]


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 cell
@pytest.mark.parametrize(
    ("route", "caller"), KAS_CELLS, ids=[f"{route.name} | {caller.key}" for route, caller in KAS_CELLS]
)
def test_kas_route(scene, route: table.KasRoute, caller: table.KasCaller):
    path = route.path.removeprefix("/api/v4")
    body = {"agent_id": scene.kas_agent(), "agent_config": {}} if route.method == "POST" else None
    body = route.body(scene) if route.body else body
    request = table.Request(route.method, path, json=body, params=route.params(scene) if route.params else None)
    assert_cell(_send(request, _kas_headers(scene, caller)), route.expected(caller), f"{route.name} as {caller.title}")


# ---------------------------------------------------------------- the table covers every route
def test_every_route_of_the_template_is_in_the_matrix():
    from devtools.template import functions

    routes = {route for function in functions() for route in function.routes}
    missing = sorted(routes - table.covered_routes())
    assert not missing, f"routes of template.yaml missing from tests/authorization_table.py: {missing}"
    assert not table.covered_routes() - routes, "the table names routes that template.yaml does not have"


# ---------------------------------------------------------------- docs/authorization.md
def test_the_committed_authorization_page_is_generated_from_the_table():
    assert DOC.exists(), "docs/authorization.md is missing: run `python -m devtools.authorization`"
    assert DOC.read_text(encoding="utf-8") == table.render(), (
        "docs/authorization.md differs from tests/authorization_table.py: run `python -m devtools.authorization`"
    )


def _documented_statuses(spec: dict, method: str, path: str) -> set[str] | None:
    paths = spec.get("paths", {})
    for candidate in (path, path.removeprefix("/api/v4")):
        operation = paths.get(candidate, {}).get(method.lower())
        if operation is not None:
            return set(operation.get("responses", {}))
    return None


def test_every_status_of_the_matrix_is_documented_in_the_openapi_description():
    spec = json.loads(OPENAPI.read_text(encoding="utf-8"))
    rows = [
        (route, [route.expected(c) for c in callers])
        for routes, callers in (
            (table.USER_ROUTES, table.USER_CALLERS),
            (table.JOB_ROUTES, table.JOB_CALLERS),
            (table.KAS_ROUTES, table.KAS_CALLERS),
        )
        for route in routes
    ]
    problems = []
    for route, outcomes in rows:
        documented = _documented_statuses(spec, route.method, route.path)
        if documented is None:
            problems.append(f"{route.method} {route.path}: not in docs/openapi.json")
            continue
        for status in sorted({outcome.status for outcome in outcomes}):
            if str(status) not in documented and f"{str(status)[0]}XX" not in documented:
                problems.append(f"{route.name}: {status} is returned but not documented ({sorted(documented)})")
    assert not problems, "\n".join(problems)
