"""Who may do what: the authorization matrix of every route, as SPEC §1-7 prescribe it.

One table drives both ``tests/test_authorization_matrix.py`` (every cell is a request whose status
and body are asserted) and ``docs/authorization.md`` (``python -m devtools.authorization``): rows
are routes, columns are kinds of caller, a cell is the answer.

The expected answer of a cell is not written out cell by cell: it follows from the route's rule
(who may call it, what a caller below that gets, what a caller who cannot see the project gets)
and the caller's standing, in GitLab's order of checks - credentials (401), the token's scope
(403 insufficient_scope on a write), the project's visibility (404 Project Not Found), the role.

Three kinds of route, each with its own callers:
- user routes (personal access tokens): everything under /projects, /groups, /users, ...;
- CI job routes (job tokens): ``GET /job/allowed_agents`` and the runner's ``PUT /jobs/:id``;
- agent server routes (the KAS JWT, then an agent token): ``/internal/...``.

Requests are built by the ``build`` function of each row against a ``Scene`` (see
``tests/test_authorization_matrix.py``): shared records for cells that must be refused, fresh ones
for cells that succeed (so that no cell depends on another)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

# ---------------------------------------------------------------- answers
READS = ("GET", "HEAD")


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict | None  # None: a success, whose body is the resource (only its JSON type is checked)
    label: str  # the cell in docs/authorization.md
    empty: bool = False  # a success without a body (HEAD)
    media_type: str = "application/json"  # of a success

    @property
    def success(self) -> bool:
        return self.status < 300


OK = Outcome(200, None, "200")
HEAD_OK = Outcome(200, None, "200 empty", empty=True)
HTML_PAGE = Outcome(200, None, "200 HTML", media_type="text/html")
STYLE_SHEET = Outcome(200, None, "200 CSS", media_type="text/css")
CREATED = Outcome(201, None, "201")
NO_CONTENT = Outcome(204, None, "204")
UNAUTHORIZED = Outcome(401, {"message": "401 Unauthorized"}, "401")
EXPIRED = Outcome(
    401,
    {
        "error": "invalid_token",
        "error_description": "Token is expired. You can either do re-authorization or token refresh.",
    },
    "401 expired",
)
REVOKED = Outcome(
    401,
    {"error": "invalid_token", "error_description": "Token was revoked. You have to re-authorize from the user."},
    "401 revoked",
)
KAS_INVALID = Outcome(401, {"message": "KAS JWT authentication invalid"}, "401 KAS")
FORBIDDEN = Outcome(403, {"message": "403 Forbidden"}, "403")
SCOPE_DESCRIPTION = "The request requires higher privileges than provided by the access token."
SCOPE = Outcome(
    403, {"error": "insufficient_scope", "error_description": SCOPE_DESCRIPTION, "scope": "api"}, "403 scope"
)
# The scopes a route registers (GitLab's allow_access_with_scope, then API::API's api and read_api),
# named by the 403 a token with none of them gets (SPEC §7.4).
API_SCOPES = "api read_api"
USERS_SCOPES = "read_user api read_api"  # lib/api/users.rb
METADATA_SCOPES = "read_user ai_features api read_api"  # lib/api/metadata.rb
NO_SCOPE = {
    scopes: Outcome(
        403, {"error": "insufficient_scope", "error_description": SCOPE_DESCRIPTION, "scope": scopes}, f"403 {scopes}"
    )
    for scopes in (API_SCOPES, USERS_SCOPES, METADATA_SCOPES)
}
JOB_NOT_RUNNING = Outcome(403, {"message": "403 Forbidden - Job is not running"}, "403 not running")
PROJECT_NOT_FOUND = Outcome(404, {"message": "404 Project Not Found"}, "404 project")
GROUP_NOT_FOUND = Outcome(404, {"message": "404 Group Not Found"}, "404 group")
AGENTS_NOT_FOUND = Outcome(404, {"message": "404 ClusterAgents Not Found"}, "404 agents")
RECORD_NOT_FOUND = Outcome(404, {"message": "404 Not found"}, "404 record")
NOT_FOUND = Outcome(404, {"message": "404 Not Found"}, "404 Not Found")
JOB_NOT_FOUND = Outcome(404, {"message": "404 Job Not Found"}, "404 job")
NAMESPACE_NOT_FOUND = Outcome(404, {"message": "404 Namespace Not Found"}, "404 namespace")

LEGEND = [
    OK,
    HEAD_OK,
    HTML_PAGE,
    STYLE_SHEET,
    CREATED,
    NO_CONTENT,
    UNAUTHORIZED,
    EXPIRED,
    REVOKED,
    KAS_INVALID,
    FORBIDDEN,
    SCOPE,
    *NO_SCOPE.values(),
    JOB_NOT_RUNNING,
    PROJECT_NOT_FOUND,
    GROUP_NOT_FOUND,
    AGENTS_NOT_FOUND,
    RECORD_NOT_FOUND,
    NOT_FOUND,
    JOB_NOT_FOUND,
    NAMESPACE_NOT_FOUND,
]

# ---------------------------------------------------------------- roles
GUEST, PLANNER, REPORTER, DEVELOPER, MAINTAINER, OWNER = 10, 15, 20, 30, 40, 50
ADMIN = 100  # acts as Owner everywhere; the only one above Owner (admin-only routes)
ANYONE = 0  # any authenticated caller who can see the target


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # under /api/v4
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class Scene(Protocol):
    """What a row's ``build`` may ask for (implemented in tests/test_authorization_matrix.py)."""

    missing: int  # an id that names nothing

    def unique(self, prefix: str) -> str: ...
    def shared_agent(self, project: dict) -> int: ...
    def shared_token(self, project: dict) -> tuple[int, int]: ...
    def shared_url_configuration(self, project: dict) -> tuple[int, int]: ...
    def fresh_agent(self, project: dict) -> int: ...
    def fresh_token(self, project: dict) -> tuple[int, int]: ...
    def fresh_url_configuration(self, project: dict) -> tuple[int, int]: ...
    def fresh_user(self) -> int: ...
    def fresh_member(self, kind: str, source_id: int) -> int: ...
    def fresh_victim_pat(self) -> int: ...
    def fresh_job(self) -> dict: ...
    def job_project(self) -> dict: ...
    def job_user(self) -> int: ...
    def kas_agent(self) -> int: ...
    def proxy_request(self) -> dict: ...
    def kas_project(self) -> dict: ...


@dataclass(frozen=True)
class Target:
    """What a cell acts on: the project and group the caller is placed in, and whether the cell is
    expected to succeed (then the records it changes are made fresh for it)."""

    project: dict
    group: dict
    fresh: bool


Build = Callable[[Scene, Target], Request]


# ---------------------------------------------------------------- user routes (personal access tokens)
@dataclass(frozen=True)
class Caller:
    key: str
    title: str
    failure: Outcome | None = None  # refused at authentication, whatever the route
    level: int = ANYONE
    read_only: bool = False  # a read_api token
    only_scope: str | None = None  # a token with this one scope (neither api nor read_api)
    sees_private: bool = True  # False: a non-member of the private project and group
    public_target: bool = False  # acts on the public project and group


USER_CALLERS = [
    Caller("anonymous", "anonymous", failure=UNAUTHORIZED),
    Caller("unknown_token", "unknown token", failure=UNAUTHORIZED),
    Caller("revoked_pat", "revoked PAT", failure=REVOKED),
    Caller("expired_pat", "expired PAT", failure=EXPIRED),
    Caller("read_api", "read_api PAT (Maintainer)", level=MAINTAINER, read_only=True),
    Caller("read_user", "read_user PAT", only_scope="read_user"),
    Caller("k8s_proxy", "k8s_proxy PAT", only_scope="k8s_proxy"),
    Caller("job_token", "job token", failure=UNAUTHORIZED),
    Caller("nonmember_private", "non-member, private", sees_private=False),
    Caller("nonmember_public", "non-member, public", public_target=True),
    Caller("guest", "Guest", level=GUEST),
    Caller("planner", "Planner", level=PLANNER),
    Caller("reporter", "Reporter", level=REPORTER),
    Caller("developer", "Developer", level=DEVELOPER),
    Caller("maintainer", "Maintainer", level=MAINTAINER),
    Caller("maintainer_group", "Maintainer via ancestor group", level=MAINTAINER),
    Caller("owner", "Owner", level=OWNER),
    Caller("admin", "Admin", level=ADMIN),
]


@dataclass(frozen=True)
class UserRoute:
    method: str
    path: str  # as in template.yaml
    build: Build
    minimum: int  # the lowest level that succeeds (ANYONE, GUEST, ..., ADMIN)
    success: Outcome
    denied: Outcome = FORBIDDEN  # visible target, level below ``minimum``
    target: str = "project"  # "project" | "group" | "none": what must be visible
    hidden: Outcome | None = None  # the target is not visible (default: 404 Project/Group Not Found)
    note: str = ""  # a variant of the route (e.g. "no such agent")
    public: bool = False  # no credentials needed at all
    registers: str = API_SCOPES  # the scopes the route registers (a token needs one of them)
    any_scope: bool = False  # any personal access token, whatever its scopes

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.note})" if self.note else "")

    def expected(self, caller: Caller) -> Outcome:
        if self.public:
            return self.success
        if caller.failure:
            return caller.failure
        if not self.any_scope:
            if caller.read_only and self.method not in READS:
                return SCOPE
            # read_user and ai_features count only on GET and HEAD; k8s_proxy nowhere but below
            if caller.only_scope and not (caller.only_scope in self.registers.split() and self.method in READS):
                return NO_SCOPE[self.registers]
        if self.target != "none" and not caller.sees_private:
            return self.hidden or (GROUP_NOT_FOUND if self.target == "group" else PROJECT_NOT_FOUND)
        return self.success if caller.level >= self.minimum else self.denied


AGENTS = "/api/v4/projects/{id}/cluster_agents"
AGENT = AGENTS + "/{agent_id}"
TOKENS = AGENT + "/tokens"
TOKEN = TOKENS + "/{token_id}"
URL_CONFIGURATIONS = AGENT + "/url_configurations"
URL_CONFIGURATION = URL_CONFIGURATIONS + "/{url_configuration_id}"


def _agents(t: Target) -> str:
    return f"/projects/{t.project['id']}/cluster_agents"


def _get_agent(s: Scene, t: Target) -> Request:
    return Request("GET", f"{_agents(t)}/{s.shared_agent(t.project)}")


def _delete_agent(s: Scene, t: Target) -> Request:
    agent = s.fresh_agent(t.project) if t.fresh else s.shared_agent(t.project)
    return Request("DELETE", f"{_agents(t)}/{agent}")


def _tokens(s: Scene, t: Target, agent: int | None = None) -> str:
    return f"{_agents(t)}/{s.shared_agent(t.project) if agent is None else agent}/tokens"


def _get_token(s: Scene, t: Target) -> Request:
    agent, token = s.shared_token(t.project)
    return Request("GET", f"{_tokens(s, t, agent)}/{token}")


def _create_token(s: Scene, t: Target) -> Request:
    agent = s.fresh_agent(t.project) if t.fresh else s.shared_agent(t.project)
    return Request("POST", _tokens(s, t, agent), json={"name": s.unique("token")})


def _revoke_token(s: Scene, t: Target) -> Request:
    agent, token = s.fresh_token(t.project) if t.fresh else s.shared_token(t.project)
    return Request("DELETE", f"{_tokens(s, t, agent)}/{token}")


def _configurations(t: Target, agent: int) -> str:
    return f"{_agents(t)}/{agent}/url_configurations"


def _get_configuration(s: Scene, t: Target) -> Request:
    agent, configuration = s.shared_url_configuration(t.project)
    return Request("GET", f"{_configurations(t, agent)}/{configuration}")


def _create_configuration(s: Scene, t: Target) -> Request:
    agent = s.fresh_agent(t.project) if t.fresh else s.shared_agent(t.project)
    return Request("POST", _configurations(t, agent), json={"url": "grpcs://agent.example.com:443"})


def _delete_configuration(s: Scene, t: Target) -> Request:
    agent, configuration = s.fresh_url_configuration(t.project) if t.fresh else s.shared_url_configuration(t.project)
    return Request("DELETE", f"{_configurations(t, agent)}/{configuration}")


def _members(t: Target, kind: str) -> str:
    source = t.project if kind == "project" else t.group
    return f"/{kind}s/{source['id']}/members"


def _add_member(kind: str) -> Build:
    return lambda s, t: Request("POST", _members(t, kind), json={"user_id": s.fresh_user(), "access_level": REPORTER})


def _change_member(kind: str, method: str) -> Build:
    def build(s: Scene, t: Target) -> Request:
        source = t.project if kind == "project" else t.group
        member = s.fresh_member(kind, source["id"])
        body = {"access_level": DEVELOPER} if method == "PUT" else None
        return Request(method, f"{_members(t, kind)}/{member}", json=body)

    return build


def _member_routes(kind: str) -> list[UserRoute]:
    base = f"/api/v4/{kind}s/{{id}}/members"
    return [
        UserRoute("GET", base, lambda s, t: Request("GET", _members(t, kind)), ANYONE, OK, target=kind),
        UserRoute("POST", base, _add_member(kind), MAINTAINER, CREATED, target=kind),
        UserRoute("PUT", base + "/{user_id}", _change_member(kind, "PUT"), MAINTAINER, OK, target=kind),
        UserRoute("DELETE", base + "/{user_id}", _change_member(kind, "DELETE"), MAINTAINER, NO_CONTENT, target=kind),
    ]


USER_ROUTES: list[UserRoute] = [
    # ------------------------------------------------------------ agents (SPEC §2)
    UserRoute("GET", AGENTS, lambda s, t: Request("GET", _agents(t)), DEVELOPER, OK, AGENTS_NOT_FOUND),
    UserRoute("GET", AGENT, _get_agent, DEVELOPER, OK, RECORD_NOT_FOUND),
    UserRoute(
        "GET",
        AGENT,
        lambda s, t: Request("GET", f"{_agents(t)}/{s.missing}"),
        DEVELOPER,
        RECORD_NOT_FOUND,
        RECORD_NOT_FOUND,
        note="no such agent",
    ),
    UserRoute(
        "POST", AGENTS, lambda s, t: Request("POST", _agents(t), json={"name": s.unique("agent")}), MAINTAINER, CREATED
    ),
    UserRoute("DELETE", AGENT, _delete_agent, MAINTAINER, NO_CONTENT),
    UserRoute(
        "DELETE",
        AGENT,
        lambda s, t: Request("DELETE", f"{_agents(t)}/{s.missing}"),
        MAINTAINER,
        RECORD_NOT_FOUND,
        note="no such agent",
    ),
    # ------------------------------------------------------------ agent tokens (SPEC §3)
    UserRoute("GET", TOKENS, lambda s, t: Request("GET", _tokens(s, t)), DEVELOPER, OK, RECORD_NOT_FOUND),
    UserRoute(
        "GET",
        TOKENS,
        lambda s, t: Request("GET", _tokens(s, t, s.missing)),
        DEVELOPER,
        RECORD_NOT_FOUND,
        RECORD_NOT_FOUND,
        note="no such agent",
    ),
    UserRoute("GET", TOKEN, _get_token, DEVELOPER, OK, RECORD_NOT_FOUND),
    UserRoute(
        "GET",
        TOKEN,
        lambda s, t: Request("GET", f"{_tokens(s, t)}/{s.missing}"),
        DEVELOPER,
        RECORD_NOT_FOUND,
        RECORD_NOT_FOUND,
        note="no such token",
    ),
    UserRoute("POST", TOKENS, _create_token, MAINTAINER, CREATED),
    UserRoute(
        "POST",
        TOKENS,
        lambda s, t: Request("POST", _tokens(s, t, s.missing), json={"name": "t"}),
        MAINTAINER,
        RECORD_NOT_FOUND,
        note="no such agent",
    ),
    UserRoute("DELETE", TOKEN, _revoke_token, MAINTAINER, NO_CONTENT),
    UserRoute(
        "DELETE",
        TOKEN,
        lambda s, t: Request("DELETE", f"{_tokens(s, t)}/{s.missing}"),
        MAINTAINER,
        RECORD_NOT_FOUND,
        note="no such token",
    ),
    # ------------------------------------------------------------ URL configurations (SPEC §4)
    UserRoute(
        "GET",
        URL_CONFIGURATIONS,
        lambda s, t: Request("GET", _configurations(t, s.shared_agent(t.project))),
        DEVELOPER,
        OK,
    ),
    UserRoute("GET", URL_CONFIGURATION, _get_configuration, DEVELOPER, OK),
    UserRoute(
        "GET",
        URL_CONFIGURATION,
        lambda s, t: Request("GET", f"{_configurations(t, s.shared_agent(t.project))}/{s.missing}"),
        DEVELOPER,
        NOT_FOUND,
        note="no such configuration",
    ),
    UserRoute("POST", URL_CONFIGURATIONS, _create_configuration, MAINTAINER, CREATED),
    UserRoute(
        "POST",
        URL_CONFIGURATIONS,
        lambda s, t: Request("POST", _configurations(t, s.missing), json={"url": "grpc://localhost:8080"}),
        MAINTAINER,
        RECORD_NOT_FOUND,
        note="no such agent",
    ),
    UserRoute("DELETE", URL_CONFIGURATION, _delete_configuration, MAINTAINER, NO_CONTENT),
    UserRoute(
        "DELETE",
        URL_CONFIGURATION,
        lambda s, t: Request("DELETE", f"{_configurations(t, s.shared_agent(t.project))}/{s.missing}"),
        MAINTAINER,
        NOT_FOUND,
        note="no such configuration",
    ),
    # ------------------------------------------------------------ the world (SPEC §5, §6.2)
    *(
        UserRoute(
            method,
            f"/api/v4/{path}",
            lambda s, t, m=method, p=path: Request(m, f"/{p}"),
            ANYONE,
            OK if method == "GET" else HEAD_OK,
            target="none",
            registers=METADATA_SCOPES,
        )
        for path in ("metadata", "version")
        for method in READS
    ),
    UserRoute("GET", "/api/v4/openapi.json", lambda s, t: Request("GET", "/openapi.json"), ANYONE, OK, public=True),
    UserRoute("GET", "/api/v4/docs", lambda s, t: Request("GET", "/docs"), ANYONE, HTML_PAGE, public=True),
    UserRoute(
        "GET",
        "/api/v4/docs/assets/{file}",
        lambda s, t: Request("GET", "/docs/assets/swagger-ui.css"),
        ANYONE,
        STYLE_SHEET,
        public=True,
    ),
    UserRoute(
        "GET",
        "/api/v4/docs/assets/{file}",
        lambda s, t: Request("GET", "/docs/assets/..%2Fopenapi.json"),
        ANYONE,
        RECORD_NOT_FOUND,
        public=True,
        note="any other file",
    ),
    UserRoute(
        "GET", "/api/v4/user", lambda s, t: Request("GET", "/user"), ANYONE, OK, target="none", registers=USERS_SCOPES
    ),
    UserRoute(
        "GET",
        "/api/v4/users/{user_id}",
        lambda s, t: Request("GET", f"/users/{s.job_user()}"),
        ANYONE,
        OK,
        target="none",
        registers=USERS_SCOPES,
    ),
    UserRoute(
        "POST",
        "/api/v4/users",
        lambda s, t: Request(
            "POST",
            "/users",
            json={"username": (name := s.unique("user")), "name": name, "email": f"{name}@example.com"},
        ),
        ADMIN,
        CREATED,
        target="none",
        registers=USERS_SCOPES,
    ),
    UserRoute(
        "POST",
        "/api/v4/users/{user_id}/personal_access_tokens",
        lambda s, t: Request(
            "POST", f"/users/{s.job_user()}/personal_access_tokens", json={"name": "t", "scopes": ["read_api"]}
        ),
        ADMIN,
        CREATED,
        target="none",
        registers=USERS_SCOPES,
    ),
    UserRoute(
        "POST",
        "/api/v4/user/personal_access_tokens",
        lambda s, t: Request("POST", "/user/personal_access_tokens", json={"name": "t", "scopes": ["k8s_proxy"]}),
        ANYONE,
        CREATED,
        target="none",
        registers=USERS_SCOPES,
    ),
    UserRoute(
        "GET",
        "/api/v4/personal_access_tokens/self",
        lambda s, t: Request("GET", "/personal_access_tokens/self"),
        ANYONE,
        OK,
        target="none",
        any_scope=True,
    ),
    UserRoute(
        "DELETE",
        "/api/v4/personal_access_tokens/{token_id}",
        lambda s, t: Request("DELETE", f"/personal_access_tokens/{s.fresh_victim_pat()}"),
        ADMIN,
        NO_CONTENT,
        NOT_FOUND,
        target="none",
        note="another user's token",
    ),
    UserRoute(
        "POST",
        "/api/v4/groups",
        lambda s, t: Request("POST", "/groups", json={"name": (path := s.unique("group")), "path": path}),
        ANYONE,
        CREATED,
        target="none",
    ),
    UserRoute(
        "GET",
        "/api/v4/groups/{id}",
        lambda s, t: Request("GET", f"/groups/{t.group['id']}"),
        ANYONE,
        OK,
        target="group",
    ),
    UserRoute(
        "POST",
        "/api/v4/projects",
        lambda s, t: Request("POST", "/projects", json={"name": s.unique("project"), "namespace_id": t.group["id"]}),
        MAINTAINER,
        CREATED,
        target="group",
        hidden=NAMESPACE_NOT_FOUND,
        note="in a group",
    ),
    UserRoute("GET", "/api/v4/projects/{id}", lambda s, t: Request("GET", f"/projects/{t.project['id']}"), ANYONE, OK),
    *_member_routes("project"),
    *_member_routes("group"),
    UserRoute(
        "POST",
        "/api/v4/admin/ci/jobs",
        lambda s, t: Request(
            "POST", "/admin/ci/jobs", json={"project_id": s.job_project()["id"], "user_id": s.job_user()}
        ),
        ADMIN,
        CREATED,
        target="none",
    ),
]


# ---------------------------------------------------------------- CI job routes (job tokens)
@dataclass(frozen=True)
class JobCaller:
    key: str
    title: str


JOB_CALLERS = [
    JobCaller("anonymous", "anonymous"),
    JobCaller("unknown_job_token", "unknown job token"),
    JobCaller("job_token_header", "running job: JOB-TOKEN"),
    JobCaller("job_token_bearer", "running job: Bearer"),
    JobCaller("job_token_param", "running job: parameter"),
    JobCaller("finished_job", "finished job"),
    JobCaller("pat", "PAT (Developer)"),
    JobCaller("pat_as_job_token", "PAT as JOB-TOKEN"),
    JobCaller("revoked_pat", "revoked PAT"),
    JobCaller("expired_pat", "expired PAT"),
    JobCaller("read_api", "read_api PAT"),
]
RUNNING_JOB = ("job_token_header", "job_token_bearer", "job_token_param")


@dataclass(frozen=True)
class JobRoute:
    method: str
    path: str
    outcomes: dict[str, Outcome]  # by JobCaller key
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}" + (f" ({self.note})" if self.note else "")

    def expected(self, caller: JobCaller) -> Outcome:
        return self.outcomes[caller.key]


JOB_ROUTES = [
    # SPEC §6.1: a job token of a running job only; a valid PAT is a user but no job.
    JobRoute(
        "GET",
        "/api/v4/job/allowed_agents",
        {
            "anonymous": UNAUTHORIZED,
            "unknown_job_token": UNAUTHORIZED,
            **dict.fromkeys(RUNNING_JOB, OK),
            "finished_job": UNAUTHORIZED,
            "pat": JOB_NOT_FOUND,
            "pat_as_job_token": UNAUTHORIZED,
            "revoked_pat": REVOKED,
            "expired_pat": EXPIRED,
            "read_api": JOB_NOT_FOUND,
        },
    ),
    # SPEC §6.2: the runner's call, with the job's own token; anything else is GitLab's runner 403.
    JobRoute(
        "PUT",
        "/api/v4/jobs/{job_id}",
        {
            **{caller.key: FORBIDDEN for caller in JOB_CALLERS},
            **dict.fromkeys(RUNNING_JOB, OK),
            "finished_job": JOB_NOT_RUNNING,
        },
    ),
    JobRoute(
        "PUT",
        "/api/v4/jobs/{job_id}",
        {
            **{caller.key: FORBIDDEN for caller in JOB_CALLERS},
        },
        note="token of another job",
    ),
]


# ---------------------------------------------------------------- agent server routes (KAS)
@dataclass(frozen=True)
class KasCaller:
    key: str
    title: str
    jwt_valid: bool
    agent_token_valid: bool = False


KAS_CALLERS = [
    KasCaller("nothing", "no credentials", jwt_valid=False),
    KasCaller("agent_token_only", "agent token, no JWT", jwt_valid=False),
    KasCaller("admin_pat", "admin PAT, no JWT", jwt_valid=False),
    KasCaller("forged_jwt", "JWT, wrong secret", jwt_valid=False),
    KasCaller("expired_jwt", "expired JWT", jwt_valid=False),
    KasCaller("hs512_jwt", "JWT, HS512", jwt_valid=False),
    KasCaller("unsigned_jwt", "JWT, alg none", jwt_valid=False),
    KasCaller("jwt_only", "JWT, no agent token", jwt_valid=True),
    KasCaller("unknown_agent_token", "JWT + unknown token", jwt_valid=True),
    KasCaller("revoked_agent_token", "JWT + revoked token", jwt_valid=True),
    KasCaller("deleted_agent_token", "JWT + token of a deleted agent", jwt_valid=True),
    KasCaller("agent_token", "JWT + agent token", jwt_valid=True, agent_token_valid=True),
    KasCaller("agentk_header", "JWT + token in Gitlab-Agentk-Api-Request", jwt_valid=True, agent_token_valid=True),
]


@dataclass(frozen=True)
class KasRoute:
    method: str
    path: str
    needs_agent_token: bool
    success: Outcome
    note: str = ""
    body: Callable[[Scene], Any] | None = None  # the JSON body (default: the agent configuration's)
    params: Callable[[Scene], dict[str, str]] | None = None  # the query a successful call needs

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    def expected(self, caller: KasCaller) -> Outcome:
        # SPEC §7.1: the JWT first, then (agent info only) the agent token.
        if not caller.jwt_valid:
            return KAS_INVALID
        if self.needs_agent_token and not caller.agent_token_valid:
            return UNAUTHORIZED
        return self.success


KAS_ROUTES = [
    KasRoute("GET", "/api/v4/internal/kubernetes/agent_info", True, OK),
    KasRoute("GET", "/api/v4/internal/agents/agentk/agent_info", True, OK),
    KasRoute("POST", "/api/v4/internal/kubernetes/agent_configuration", False, NO_CONTENT),
    KasRoute(
        "POST",
        "/api/v4/internal/kubernetes/authorize_proxy_user",
        False,
        CREATED,
        note="a k8s_proxy PAT of a user the agent's user_access authorises",
        body=lambda scene: scene.proxy_request(),
    ),
    KasRoute("GET", "/api/v4/internal/kubernetes/receptive_agents", False, OK),
    KasRoute(
        "GET",
        "/api/v4/internal/kubernetes/verify_project_access",
        True,
        NO_CONTENT,
        note="the agent's own project",
        params=lambda scene: {"id": str(scene.kas_project()["id"])},
    ),
    KasRoute("POST", "/api/v4/internal/kubernetes/usage_metrics", False, NO_CONTENT),
    KasRoute("POST", "/api/v4/internal/kubernetes/agent_events", False, NO_CONTENT),
]


# ---------------------------------------------------------------- every route, once
def covered_routes() -> set[tuple[str, str]]:
    """(METHOD, template path) of every route the matrix exercises."""
    return {(route.method, route.path) for route in (*USER_ROUTES, *JOB_ROUTES, *KAS_ROUTES)}


def cell_count() -> int:
    return (
        len(USER_ROUTES) * len(USER_CALLERS) + len(JOB_ROUTES) * len(JOB_CALLERS) + len(KAS_ROUTES) * len(KAS_CALLERS)
    )


# ---------------------------------------------------------------- docs/authorization.md
def _short(path: str) -> str:
    return path.removeprefix("/api/v4").replace("{", ":").replace("}", "")


def _table(routes: list, callers: list) -> list[str]:
    lines = ["| route | " + " | ".join(caller.title for caller in callers) + " |", "|---|" + "---|" * len(callers)]
    for route in routes:
        name = f"`{route.method} {_short(route.path)}`" + (f" ({route.note})" if route.note else "")
        lines.append(f"| {name} | " + " | ".join(route.expected(caller).label for caller in callers) + " |")
    return lines


def render() -> str:
    """docs/authorization.md, generated from this table."""
    legend = ["| cell | status | body |", "|---|---|---|"]
    for outcome in LEGEND:
        body = (
            "the resource"
            if outcome.body is None and outcome.status != 204 and not outcome.empty
            else ("empty" if outcome.body is None else "`" + _compact(outcome.body) + "`")
        )
        body = {HTML_PAGE.label: "an HTML page", STYLE_SHEET.label: "a style sheet"}.get(outcome.label, body)
        legend.append(f"| {outcome.label} | {outcome.status} | {body} |")
    lines = [
        "# Who may do what",
        "",
        "<!-- Generated by `python -m devtools.authorization` from tests/authorization_table.py;"
        " do not edit by hand. -->",
        "",
        "Every route of the API against every kind of caller, as the contract (SPEC §1-7) prescribes and",
        "`tests/test_authorization_matrix.py` checks cell by cell: one request per cell, its status and",
        "exact body asserted. Checks run in GitLab's order: credentials, the token's scope, the project's",
        "(or group's) visibility, then the caller's role - and a write's role check comes before the record",
        "is looked up, so a Developer deleting a missing agent gets 403, not 404.",
        "",
        "Roles are those of SPEC §1.3: a caller's role in a project is the highest of its project",
        "membership and its memberships of the project's group and every ancestor group; administrators",
        'act as Owner everywhere. "non-member, private" is an authenticated user who is not a member of',
        'the private project (or group); "non-member, public" acts on a public project (or group).',
        "The read_api token belongs to a Maintainer; the revoked and expired tokens too (their role",
        'never matters). "job token" is a running job\'s token sent as `JOB-TOKEN` to a user route.',
        "A token needs a scope its route registers (SPEC §1.1, §7.4): `api`, `read_api` on GET and HEAD, and",
        "`read_user` (GET/HEAD) on the users routes and the metadata, `ai_features` (GET/HEAD) on the metadata;",
        "`/personal_access_tokens/self` takes any token. A token with none of them gets 403 naming every",
        'scope the route registers, except a read_api token on a write (`"scope":"api"`).',
        "",
        "## Cells",
        "",
        *legend,
        "",
        f"## User routes (personal access tokens) - {len(USER_ROUTES)} routes x {len(USER_CALLERS)} callers",
        "",
        *_table(USER_ROUTES, USER_CALLERS),
        "",
        f"## CI job routes (job tokens) - {len(JOB_ROUTES)} x {len(JOB_CALLERS)}",
        "",
        "A job token is accepted by these routes only (SPEC §1.1, §6). The job is one of a Developer.",
        "",
        *_table(JOB_ROUTES, JOB_CALLERS),
        "",
        f"## Agent server routes (KAS) - {len(KAS_ROUTES)} x {len(KAS_CALLERS)}",
        "",
        "The agent server's HS256 JWT (`Gitlab-Kas-Api-Request`) is checked first, then - for agent",
        "info and project access - the agent token (`Gitlab-Agentk-Api-Request`; when absent",
        "`Gitlab-Agent-Api-Request`; when neither is present `Authorization: Bearer`) (SPEC §7);",
        "`authorize_proxy_user` then checks the user's personal access token it is given (SPEC §7.4).",
        "",
        *_table(KAS_ROUTES, KAS_CALLERS),
        "",
        f"{cell_count()} cells in all.",
        "",
    ]
    return "\n".join(lines)


def _compact(body: dict) -> str:
    import json

    return json.dumps(body, separators=(",", ":"))
