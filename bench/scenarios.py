"""One scenario per route of SPEC: everything a route needs is set up through the API (in this
process, untimed), then the scenario yields the request to measure, again and again.

A scenario is a generator ``def make(world) -> Iterator[Request]``: the code before each
``yield`` prepares the next request (a fresh user to add, a token to revoke, ...), so
``Driver.next()`` is never timed; the response is sent back into the generator
(``response = yield request``) for scenarios that need it. Routes are matched on the
template's resource with parameter names ignored (``/projects/{}/cluster_agents``)."""

from __future__ import annotations

import base64
import collections
import itertools
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import quote

import testkit.kas
import testkit.world
from bench.stack import KAS_SECRET, ROOT_TOKEN
from testkit.client import ApiClient, InProcess, Request, Response, check
from testkit.container import expire_recent_copies

GUEST, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 20, 30, 40, 50
URL = "grpcs://agent.example.com:4242"

RouteKey = tuple[str, str]


def route_key(method: str, resource: str) -> RouteKey:
    """``("GET", "/api/v4/projects/{}/cluster_agents")``: parameter names do not matter."""
    resource = resource if resource.startswith("/api/") else "/api/v4" + resource
    return method.upper(), re.sub(r"\{[^}/]*\}", "{}", resource)


def show(key: RouteKey) -> str:
    return f"{key[0]} {key[1].removeprefix('/api/v4')}"


# ---------------------------------------------------------------- the scenario registry
@dataclass(frozen=True)
class Scenario:
    key: RouteKey
    make: Callable[[World], Iterator[Request]]
    label: str = ""  # a variant of the same route ("by path")
    group: str = ""  # SPEC section, for the report's order

    @property
    def name(self) -> str:
        return show(self.key) + (f" ({self.label})" if self.label else "")

    @property
    def writes(self) -> bool:
        return self.key[0] in ("POST", "PUT", "PATCH", "DELETE")


SCENARIOS: list[Scenario] = []


def scenario(method: str, path: str, *, label: str = "", group: str = "") -> Callable:
    def register(make: Callable[[World], Iterator[Request]]) -> Callable:
        SCENARIOS.append(Scenario(route_key(method, path), make, label, group))
        return make

    return register


# ---------------------------------------------------------------- the world the scenarios need
AGENT = "/projects/{}/cluster_agents/{}"
TOKENS = "/projects/{}/cluster_agents/{}/tokens"
URL_CONFIGURATIONS = "/projects/{}/cluster_agents/{}/url_configurations"
KAS_CONFIGURATION = "/internal/kubernetes/agent_configuration"
KAS_AUTHORIZE_PROXY_USER = "/internal/kubernetes/authorize_proxy_user"


@dataclass
class Notes:
    """What the set-up had to do other than through the API (shown in BENCHMARKS.md)."""

    seeded: set[str] = field(default_factory=set)


class World(testkit.world.World):
    """The GitLab world with agents, tokens and jobs, every name unique to ``run_id``; fixtures
    the scenarios share are made on first use."""

    def __init__(self, client: InProcess, run_id: str, container: Any = None, root_token: str = ROOT_TOKEN) -> None:
        super().__init__(ApiClient(root_token, client), run=run_id)
        self.client = client
        self.root_auth = {"PRIVATE-TOKEN": root_token}
        self.container = container
        self.notes = Notes()
        self._active_tokens: dict[int, collections.deque] = collections.defaultdict(collections.deque)

    def send(
        self,
        method: str,
        path: str,
        *,
        auth: dict[str, str] | None = None,
        json_body: Any = None,
        expect: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        request = Request(
            method, path, {**(self.root_auth if auth is None else auth), **(headers or {})}, json_body, expect=expect
        )
        return check(request, self.client.send(request))

    def job(self, project_id: int, user_id: int) -> tuple[int, str]:
        made = self.send(
            "POST",
            "/admin/ci/jobs",
            json_body={"project_id": project_id, "user_id": user_id, "environment": {"name": "production"}},
            expect=201,
        ).json()
        return made["id"], made["token"]

    # -------------------------------------------------------------- agents and what they own
    def agent(self, project_id: int, prefix: str = "agent") -> int:
        return self.send(
            "POST", f"/projects/{project_id}/cluster_agents", json_body={"name": self.unique(prefix)}, expect=201
        ).json()["id"]

    def seed_agent(self, project_id: int, name: str) -> int:
        """An agent written straight to AgentsTable in the agents repository's layout (bulk set-up)."""
        from cluster_agents import clock
        from cluster_agents.settings import get_settings
        from cluster_agents.store import dynamo, ids

        table = get_settings().agents_table
        agent_id = ids.next_id(table, "agent")
        now = clock.now_iso()
        fields = {
            "id": agent_id,
            "project_id": project_id,
            "name": name,
            "created_at": now,
            "updated_at": now,
            "created_by_user_id": 1,
            "is_receptive": False,
            "active_tokens": 0,
            "version": 0,
        }
        dynamo.transact(
            [
                dynamo.put_action(table, {"pk": f"AGENT#{agent_id}", "sk": "A", **fields}, "attribute_not_exists(pk)"),
                dynamo.put_action(
                    table, {"pk": f"PROJECT#{project_id}", "sk": f"AGENT#{name}", **fields}, "attribute_not_exists(pk)"
                ),
                dynamo.update_action(
                    table, f"PROJECT#{project_id}", "#STATS", "ADD agent_count :one", values={":one": 1}
                ),
            ]
        )
        return agent_id

    def token(self, project_id: int, agent_id: int) -> tuple[int, str]:
        """A new active token (revoking the oldest first when the agent has two, as glab does)."""
        active = self._active_tokens[agent_id]
        if len(active) >= 2:
            self.revoke(project_id, agent_id, active[0])
        made = self.send(
            "POST",
            f"/projects/{project_id}/cluster_agents/{agent_id}/tokens",
            json_body={"name": self.unique("token")},
            expect=201,
        ).json()
        active.append(made["id"])
        return made["id"], made["token"]

    def revoke(self, project_id: int, agent_id: int, token_id: int) -> None:
        self.send("DELETE", f"/projects/{project_id}/cluster_agents/{agent_id}/tokens/{token_id}", expect=204)
        if token_id in self._active_tokens[agent_id]:
            self._active_tokens[agent_id].remove(token_id)

    def url_configuration(self, project_id: int, agent_id: int) -> int:
        return self.send(
            "POST",
            f"/projects/{project_id}/cluster_agents/{agent_id}/url_configurations",
            json_body={"url": URL},
            expect=201,
        ).json()["id"]

    def kas_headers(self, agent_token: str | None = None) -> dict[str, str]:
        return testkit.kas.kas_headers(agent_token, secret=base64.b64decode(KAS_SECRET))

    # -------------------------------------------------------------- shared fixtures (made on first use)
    @cached_property
    def maintainer(self) -> testkit.world.Person:
        """Maintainer of the bench group (so of every project in it): the caller of most scenarios."""
        person = self.user("maintainer")
        self.member("group", self.bench_group["id"], person, MAINTAINER)
        return person

    @cached_property
    def bench_group(self) -> dict:
        return self.group()

    @cached_property
    def fleet(self) -> dict:
        """The project the read scenarios look at: two agents, one with a token, one receptive."""
        return self.project("fleet", namespace_id=self.bench_group["id"])

    @cached_property
    def scratch(self) -> dict:
        """The project write scenarios create and delete agents in (keeps ``fleet`` small)."""
        return self.project("scratch", namespace_id=self.bench_group["id"])

    @cached_property
    def primary(self) -> int:
        return self.agent(self.fleet["id"], "primary")

    @cached_property
    def primary_token(self) -> tuple[int, str]:
        return self.token(self.fleet["id"], self.primary)

    @cached_property
    def receptive(self) -> tuple[int, int]:
        agent_id = self.agent(self.fleet["id"], "receptive")
        return agent_id, self.url_configuration(self.fleet["id"], agent_id)

    @cached_property
    def authorised_elsewhere(self) -> int:
        """An agent of another project that authorises the bench group through ci_access."""
        infra = self.project("infra", namespace_id=self.bench_group["id"])
        agent_id = self.agent(infra["id"], "deployer")
        config = {"ci_access": {"groups": [{"id": self.bench_group["full_path"]}]}}
        self.send(
            "POST",
            KAS_CONFIGURATION,
            auth={},
            headers=self.kas_headers(),
            json_body={"agent_id": agent_id, "agent_config": config},
            expect=204,
        )
        return agent_id


def _encoded(project: dict) -> str:
    return quote(project["path_with_namespace"], safe="")


# ---------------------------------------------------------------- §5 the world
@scenario("GET", "/metadata", group="world")
def _get_metadata(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", "/metadata", w.maintainer.auth)


@scenario("GET", "/version", group="world")
def _get_version(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", "/version", w.maintainer.auth)


@scenario("GET", "/user", group="world")
def _get_current_user(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", "/user", w.maintainer.auth)


@scenario("GET", "/users/{}", group="world")
def _get_user(w: World) -> Iterator[Request]:
    other = w.user("other")
    while True:
        yield Request("GET", f"/users/{other.id}", w.maintainer.auth)


@scenario("POST", "/users", group="world")
def _create_user(w: World) -> Iterator[Request]:
    while True:
        name = w.unique("new")
        yield Request(
            "POST", "/users", w.root_auth, {"username": name, "name": name, "email": f"{name}@example.com"}, expect=201
        )


@scenario("POST", "/users/{}/personal_access_tokens", group="world")
def _create_pat(w: World) -> Iterator[Request]:
    owner = w.user("owner")
    while True:
        yield Request(
            "POST",
            f"/users/{owner.id}/personal_access_tokens",
            w.root_auth,
            {"name": "bench", "scopes": ["api"]},
            expect=201,
        )


@scenario("POST", "/user/personal_access_tokens", group="world")
def _create_own_pat(w: World) -> Iterator[Request]:
    while True:
        yield Request(
            "POST",
            "/user/personal_access_tokens",
            w.maintainer.auth,
            {"name": "kubectl", "scopes": ["k8s_proxy"]},
            expect=201,
        )


@scenario("GET", "/personal_access_tokens/self", group="world")
def _get_own_pat(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", "/personal_access_tokens/self", w.maintainer.auth)


@scenario("DELETE", "/personal_access_tokens/{}", group="world")
def _revoke_pat(w: World) -> Iterator[Request]:
    owner = w.user("owner")
    while True:
        token_id = w.personal_access_token(owner.id)["id"]
        yield Request("DELETE", f"/personal_access_tokens/{token_id}", w.root_auth, expect=204)


@scenario("POST", "/groups", group="world")
def _create_group(w: World) -> Iterator[Request]:
    while True:
        path = w.unique("g")
        yield Request("POST", "/groups", w.maintainer.auth, {"name": path, "path": path}, expect=201)


@scenario("GET", "/groups/{}", group="world")
def _get_group(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", f"/groups/{w.bench_group['id']}", w.maintainer.auth)


@scenario("POST", "/projects", group="world")
def _create_project(w: World) -> Iterator[Request]:
    while True:
        yield Request("POST", "/projects", w.maintainer.auth, {"name": w.unique("p")}, expect=201)


@scenario("GET", "/projects/{}", group="world")
def _get_project(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", f"/projects/{w.fleet['id']}", w.maintainer.auth)


@scenario("GET", "/projects/{}", label="by path", group="world")
def _get_project_by_path(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", f"/projects/{_encoded(w.fleet)}", w.maintainer.auth)


def _members(kind: str) -> None:
    def source(w: World) -> int:
        return w.fleet["id"] if kind == "project" else w.bench_group["id"]

    base = f"/{kind}s/{{}}/members"

    @scenario("GET", base, group="world")
    def _list(w: World) -> Iterator[Request]:
        while True:
            yield Request("GET", f"/{kind}s/{source(w)}/members", w.maintainer.auth)

    @scenario("POST", base, group="world")
    def _add(w: World) -> Iterator[Request]:
        joiner = w.user("joiner")
        added = False
        while True:
            if added:
                w.remove_member(kind, source(w), joiner)
            added = True
            yield Request(
                "POST",
                f"/{kind}s/{source(w)}/members",
                w.maintainer.auth,
                {"user_id": joiner.id, "access_level": DEVELOPER},
                expect=201,
            )

    @scenario("PUT", base + "/{}", group="world")
    def _update(w: World) -> Iterator[Request]:
        member = w.user("member")
        w.member(kind, source(w), member, REPORTER)
        for level in itertools.cycle((DEVELOPER, REPORTER)):
            yield Request(
                "PUT", f"/{kind}s/{source(w)}/members/{member.id}", w.maintainer.auth, {"access_level": level}
            )

    @scenario("DELETE", base + "/{}", group="world")
    def _remove(w: World) -> Iterator[Request]:
        leaver = w.user("leaver")
        while True:
            w.member(kind, source(w), leaver, DEVELOPER)
            yield Request("DELETE", f"/{kind}s/{source(w)}/members/{leaver.id}", w.maintainer.auth, expect=204)


_members("project")
_members("group")


@scenario("POST", "/admin/ci/jobs", group="world")
def _create_job(w: World) -> Iterator[Request]:
    while True:
        yield Request(
            "POST", "/admin/ci/jobs", w.root_auth, {"project_id": w.fleet["id"], "user_id": w.maintainer.id}, expect=201
        )


@scenario("PUT", "/jobs/{}", group="world")
def _finish_job(w: World) -> Iterator[Request]:
    while True:
        job_id, token = w.job(w.fleet["id"], w.maintainer.id)
        yield Request("PUT", f"/jobs/{job_id}", {"JOB-TOKEN": token}, {"state": "success"})


# ---------------------------------------------------------------- §2 agents
@scenario("GET", "/projects/{}/cluster_agents", group="agents")
def _list_agents(w: World) -> Iterator[Request]:
    _ = w.primary, w.receptive  # two agents listed
    while True:
        yield Request("GET", f"/projects/{w.fleet['id']}/cluster_agents", w.maintainer.auth)


@scenario("GET", "/projects/{}/cluster_agents", label="by path", group="agents")
def _list_agents_by_path(w: World) -> Iterator[Request]:
    _ = w.primary
    while True:
        yield Request("GET", f"/projects/{_encoded(w.fleet)}/cluster_agents", w.maintainer.auth)


@scenario("GET", AGENT, group="agents")
def _get_agent(w: World) -> Iterator[Request]:
    while True:
        yield Request("GET", f"/projects/{w.fleet['id']}/cluster_agents/{w.primary}", w.maintainer.auth)


@scenario("POST", "/projects/{}/cluster_agents", group="agents")
def _create_agent(w: World) -> Iterator[Request]:
    while True:
        yield Request(
            "POST",
            f"/projects/{w.scratch['id']}/cluster_agents",
            w.maintainer.auth,
            {"name": w.unique("new")},
            expect=201,
        )


@scenario("DELETE", AGENT, group="agents")
def _delete_agent(w: World) -> Iterator[Request]:
    while True:
        agent_id = w.agent(w.scratch["id"], "doomed")
        yield Request("DELETE", f"/projects/{w.scratch['id']}/cluster_agents/{agent_id}", w.maintainer.auth, expect=204)


# ---------------------------------------------------------------- §3 agent tokens
@scenario("GET", TOKENS, group="agent tokens")
def _list_tokens(w: World) -> Iterator[Request]:
    _ = w.primary_token
    while True:
        yield Request("GET", f"/projects/{w.fleet['id']}/cluster_agents/{w.primary}/tokens", w.maintainer.auth)


@scenario("GET", TOKENS + "/{}", group="agent tokens")
def _get_token(w: World) -> Iterator[Request]:
    token_id, _ = w.primary_token
    while True:
        yield Request(
            "GET", f"/projects/{w.fleet['id']}/cluster_agents/{w.primary}/tokens/{token_id}", w.maintainer.auth
        )


@scenario("POST", TOKENS, group="agent tokens")
def _create_token(w: World) -> Generator[Request, Response | None, None]:
    project = w.scratch["id"]
    agent_id = w.agent(project, "minter")
    made: collections.deque = collections.deque()
    while True:
        if len(made) >= 2:  # the two-token limit: revoke the oldest first, as glab does
            w.revoke(project, agent_id, made.popleft())
        response = yield Request(
            "POST",
            f"/projects/{project}/cluster_agents/{agent_id}/tokens",
            w.maintainer.auth,
            {"name": w.unique("t")},
            expect=201,
        )
        made.append(response.json()["id"])


@scenario("DELETE", TOKENS + "/{}", group="agent tokens")
def _revoke_token(w: World) -> Iterator[Request]:
    project = w.scratch["id"]
    agent_id = w.agent(project, "revoker")
    while True:
        token_id, _ = w.token(project, agent_id)
        w._active_tokens[agent_id].remove(token_id)
        yield Request(
            "DELETE", f"/projects/{project}/cluster_agents/{agent_id}/tokens/{token_id}", w.maintainer.auth, expect=204
        )


# ---------------------------------------------------------------- §4 URL configurations
@scenario("GET", URL_CONFIGURATIONS, group="url configurations")
def _list_url_configurations(w: World) -> Iterator[Request]:
    agent_id, _ = w.receptive
    while True:
        yield Request(
            "GET", f"/projects/{w.fleet['id']}/cluster_agents/{agent_id}/url_configurations", w.maintainer.auth
        )


@scenario("GET", URL_CONFIGURATIONS + "/{}", group="url configurations")
def _get_url_configuration(w: World) -> Iterator[Request]:
    agent_id, configuration_id = w.receptive
    while True:
        yield Request(
            "GET",
            f"/projects/{w.fleet['id']}/cluster_agents/{agent_id}/url_configurations/{configuration_id}",
            w.maintainer.auth,
        )


@scenario("POST", URL_CONFIGURATIONS, group="url configurations")
def _create_url_configuration(w: World) -> Iterator[Request]:
    project = w.scratch["id"]
    agent_id = w.agent(project, "listener")
    base = f"/projects/{project}/cluster_agents/{agent_id}/url_configurations"
    while True:
        for existing in w.send("GET", base).json():
            w.send("DELETE", f"{base}/{existing['id']}", expect=204)
        yield Request("POST", base, w.maintainer.auth, {"url": URL}, expect=201)


@scenario("DELETE", URL_CONFIGURATIONS + "/{}", group="url configurations")
def _delete_url_configuration(w: World) -> Iterator[Request]:
    project = w.scratch["id"]
    agent_id = w.agent(project, "unlistener")
    while True:
        configuration_id = w.url_configuration(project, agent_id)
        yield Request(
            "DELETE",
            f"/projects/{project}/cluster_agents/{agent_id}/url_configurations/{configuration_id}",
            w.maintainer.auth,
            expect=204,
        )


# ---------------------------------------------------------------- §6 CI jobs
@scenario("GET", "/job/allowed_agents", group="ci")
def _allowed_agents(w: World) -> Iterator[Request]:
    _ = w.primary, w.authorised_elsewhere  # one agent of the project, one through ci_access
    _, token = w.job(w.fleet["id"], w.maintainer.id)
    while True:
        expire_recent_copies()  # the most a warm request reads: the CIACCESS# items, not the container's copies
        yield Request("GET", "/job/allowed_agents", {"JOB-TOKEN": token})


# ---------------------------------------------------------------- §7 the agent server (KAS)
def _agent_info(path: str) -> None:
    @scenario("GET", path, group="kas")
    def _info(w: World) -> Iterator[Request]:
        _, secret = w.primary_token
        while True:
            yield Request("GET", path, w.kas_headers(secret))


_agent_info("/internal/kubernetes/agent_info")
_agent_info("/internal/agents/agentk/agent_info")


@scenario("POST", KAS_CONFIGURATION, group="kas")
def _agent_configuration(w: World) -> Iterator[Request]:
    project = w.project("configured", namespace_id=w.bench_group["id"])
    agent_id = w.agent(project["id"], "configured")
    groups = [{"id": w.bench_group["full_path"]}]
    project = {"id": w.fleet["path_with_namespace"]}
    # Alternately one and two authorisations: every request changes what is stored (a write).
    configs = itertools.cycle(
        ({"ci_access": {"groups": groups, "projects": [project]}}, {"ci_access": {"groups": groups}})
    )
    while True:
        yield Request(
            "POST",
            KAS_CONFIGURATION,
            w.kas_headers(),
            {"agent_id": agent_id, "agent_config": next(configs)},
            expect=204,
        )


@scenario("POST", KAS_AUTHORIZE_PROXY_USER, group="kas")
def _authorize_proxy_user(w: World) -> Iterator[Request]:
    """A Developer of the bench group with a k8s_proxy token, through an agent whose user_access
    names a project and the group (``access_as: user``: every grant with its roles)."""
    project = w.project("proxied", namespace_id=w.bench_group["id"])
    agent_id = w.agent(project["id"], "proxy")
    config = {
        "user_access": {
            "access_as": {"user": {}},
            "projects": [{"id": project["path_with_namespace"]}],
            "groups": [{"id": w.bench_group["full_path"]}],
        }
    }
    w.send(
        "POST",
        KAS_CONFIGURATION,
        auth={},
        headers=w.kas_headers(),
        json_body={"agent_id": agent_id, "agent_config": config},
        expect=204,
    )
    person = w.user("proxied")
    w.member("group", w.bench_group["id"], person, DEVELOPER)
    token = w.personal_access_token(person.id, ["k8s_proxy"])["token"]
    body = {"agent_id": agent_id, "access_type": "personal_access_token", "access_key": token}
    while True:
        yield Request("POST", KAS_AUTHORIZE_PROXY_USER, w.kas_headers(), body, expect=201)


@scenario("GET", "/internal/kubernetes/receptive_agents", group="kas")
def _receptive_agents(w: World) -> Iterator[Request]:
    _ = w.primary, w.receptive  # one receptive agent, one not: only the first is read
    while True:
        yield Request("GET", "/internal/kubernetes/receptive_agents", w.kas_headers())


@scenario("GET", "/internal/kubernetes/verify_project_access", group="kas")
def _verify_project_access(w: World) -> Iterator[Request]:
    _, secret = w.primary_token
    while True:  # the agent's own project, by path: found through the path index, then the project
        yield Request(
            "GET",
            "/internal/kubernetes/verify_project_access",
            w.kas_headers(secret),
            query={"id": w.fleet["path_with_namespace"]},
            expect=204,
        )


@scenario("POST", "/internal/kubernetes/usage_metrics", group="kas")
def _usage_metrics(w: World) -> Iterator[Request]:
    body = {
        "counters": {"k8s_api_proxy_request": 3, "flux_git_push_notifications_total": 1},
        "unique_counters": {"k8s_api_proxy_requests_unique_users_via_ci_access": [1, 2]},
    }
    while True:
        yield Request("POST", "/internal/kubernetes/usage_metrics", w.kas_headers(), body, expect=204)


@scenario("POST", "/internal/kubernetes/agent_events", group="kas")
def _agent_events(w: World) -> Iterator[Request]:
    body = {
        "events": {
            "k8s_api_proxy_requests_unique_users_via_ci_access": [{"user_id": 1, "project_id": 2}],
            "register_agent_at_kas": [{"project_id": 2, "agent_id": 1, "agent_version": "v18.0.0"}],
        }
    }
    while True:
        yield Request("POST", "/internal/kubernetes/agent_events", w.kas_headers(), body, expect=204)


# ---------------------------------------------------------------- the docs page's assets
@scenario("GET", "/docs/assets/{}", group="other")
def _docs_asset(w: World) -> Iterator[Request]:
    """Swagger UI's largest file (its script, 1.8 MB): what serving a static asset costs."""
    while True:
        yield Request("GET", "/docs/assets/swagger-ui-bundle.js", {})


class Driver:
    """Steps one scenario: ``next()`` prepares and returns a request, ``answered()`` hands the
    response back to the scenario before the next one is prepared."""

    def __init__(self, item: Scenario, world: World) -> None:
        self.scenario = item
        self._generator = item.make(world)
        self._started = False
        self._last: Response | None = None

    def next(self) -> Request:
        if self._started:
            request = self._generator.send(self._last)
        else:
            request = next(self._generator)
            self._started = True
        self._last = None
        return request

    def answered(self, response: Response) -> None:
        self._last = response


# ---------------------------------------------------------------- what runs
@dataclass(frozen=True)
class Plan:
    runnable: list[Scenario]
    unscripted: list[RouteKey]  # template routes without a scenario


def _generic(key: RouteKey) -> Scenario:
    """A route without a scenario but also without parameters (``GET /openapi.json``): GET it as root."""
    path = key[1].removeprefix("/api/v4")

    def make(w: World) -> Iterator[Request]:
        while True:
            yield Request("GET", path, w.root_auth, expect=None)

    return Scenario(key, make, label="generic scenario: GET as root", group="other")


def plan(template_routes: set[RouteKey]) -> Plan:
    """Every scenario, and a generic one for each template route without parameters and without
    a scenario; a scenario of a route the template does not have is an error."""
    strays = [item.name for item in SCENARIOS if item.key not in template_routes]
    if strays:
        raise ValueError(f"scenarios of routes template.yaml does not have: {', '.join(strays)}")
    scripted = {item.key for item in SCENARIOS}
    unscripted = sorted(key for key in template_routes if key not in scripted and key[0] != "HEAD")
    runnable = SCENARIOS + [_generic(key) for key in unscripted if key[0] == "GET" and "{}" not in key[1]]
    unscripted = [key for key in unscripted if not (key[0] == "GET" and "{}" not in key[1])]
    return Plan(runnable, unscripted)


def template_routes(template: dict | None = None) -> set[RouteKey]:
    from devtools import template as cfn

    return {route_key(method, resource) for function in cfn.functions(template) for method, resource in function.routes}


def function_of(template: dict | None = None) -> dict[RouteKey, str]:
    from devtools import template as cfn

    return {
        route_key(method, resource): function.logical_id
        for function in cfn.functions(template)
        for method, resource in function.routes
    }
