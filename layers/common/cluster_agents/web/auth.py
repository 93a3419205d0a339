"""Who is calling: a user with a personal access token, or a CI job with its job token.

A personal access token must hold a scope its route accepts. Each route declares the scopes it
registers, as GitLab's endpoint classes do with ``allow_access_with_scope`` (every route also has
API::API's ``api``, and ``read_api`` for GET and HEAD): ``current_user(USERS)`` for the routes of
GitLab's lib/api/users.rb, ``METADATA`` for lib/api/metadata.rb, ``ANY_SCOPE`` for
``/personal_access_tokens/self``, the default ``GITLAB_API`` everywhere else. A token with none
of the scopes the route accepts for the request's method gets 403 insufficient_scope naming every
scope the route registers, space-separated, in GitLab's order (``read_user api read_api``) -
except a read_api token on a write, whose body names ``api`` (SPEC §1.1)."""

from __future__ import annotations

from dataclasses import dataclass

from cluster_agents import clock
from cluster_agents.crypto import digest
from cluster_agents.domain.models import Job, PersonalAccessToken, User
from cluster_agents.errors import InsufficientScope, TokenExpired, TokenRevoked, Unauthenticated
from cluster_agents.observability import identify
from cluster_agents.store.personal_access_tokens import personal_access_tokens
from cluster_agents.web.request import Request, current

READ_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Scope:
    """A scope a route registers; ``reads_only``: it counts only for GET and HEAD."""

    name: str
    reads_only: bool = False

    def allows(self, scopes: tuple[str, ...], method: str) -> bool:
        return self.name in scopes and (not self.reads_only or method in READ_METHODS)


API, READ_API = Scope("api"), Scope("read_api", reads_only=True)
READ_USER, AI_FEATURES = Scope("read_user", reads_only=True), Scope("ai_features", reads_only=True)
K8S_PROXY_SCOPE = Scope("k8s_proxy")


@dataclass(frozen=True)
class RouteScopes:
    """The scopes a group of routes registers: its own (``own``, in declaration order), then
    API::API's (``api``, ``read_api``) unless ``inherits_api`` is False. ``any_scope``: every
    token is accepted, whatever its scopes."""

    own: tuple[Scope, ...] = ()
    inherits_api: bool = True
    any_scope: bool = False

    @property
    def registered(self) -> tuple[Scope, ...]:
        return (*self.own, API, READ_API) if self.inherits_api else self.own

    def authorize(self, token_scopes: tuple[str, ...], method: str) -> None:
        """Raises InsufficientScope unless one of the token's scopes is accepted for ``method``."""
        registered = self.registered
        if self.any_scope or any(scope.allows(token_scopes, method) for scope in registered):
            return
        if READ_API in registered and READ_API.name in token_scopes and method not in READ_METHODS:
            raise InsufficientScope(API.name)
        raise InsufficientScope(self.names)

    @property
    def names(self) -> str:
        return " ".join(scope.name for scope in self.registered)

    def refusals(self, method: str) -> list[InsufficientScope]:
        """Every insufficient_scope answer a route registering these scopes can give (its OpenAPI)."""
        if self.any_scope:
            return []
        found = [InsufficientScope(self.names)]
        if READ_API in self.registered and method not in READ_METHODS:
            found.append(InsufficientScope(API.name))
        return found


GITLAB_API = RouteScopes()  # projects, groups, members, agents, tokens, URL configurations, ...
USERS = RouteScopes((READ_USER,))  # GitLab's lib/api/users.rb: /user, /users, /user/personal_access_tokens
METADATA = RouteScopes((READ_USER, AI_FEATURES))  # lib/api/metadata.rb: /metadata, /version
ANY_SCOPE = RouteScopes(any_scope=True)  # lib/api/personal_access_tokens/self_information.rb
K8S_PROXY = RouteScopes((K8S_PROXY_SCOPE,), inherits_api=False)  # authorize_proxy_user


@dataclass(frozen=True)
class Caller:
    user: User
    token: PersonalAccessToken | None = None
    job: Job | None = None


def _bearer(request: Request) -> str | None:
    authorization = request.header("authorization") or ""
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _param(request: Request, name: str) -> str | None:
    value = request.params().get(name)
    return value if isinstance(value, str) and value else None


def personal_access_token(request: Request) -> str | None:
    return request.header("private-token") or _param(request, "private_token") or _bearer(request)


def job_token(request: Request) -> str | None:
    return request.header("job-token") or _param(request, "job_token") or _bearer(request)


def current_user(scopes: RouteScopes = GITLAB_API) -> Caller:
    """The user behind the request's personal access token (memoised per request), which must
    hold a scope that ``scopes`` (what the route registers) accepts for the request's method."""
    request = current()
    if "caller" not in request.state:
        request.state["caller"] = _authenticate_pat(request, scopes)
    return request.state["caller"]


def _authenticate_pat(request: Request, scopes: RouteScopes) -> Caller:
    token = personal_access_token(request)
    if not token:
        raise Unauthenticated()
    found = personal_access_tokens().get_pat_by_digest(digest(token))
    if not found:
        raise Unauthenticated()
    pat, user = found
    if pat.revoked:
        raise TokenRevoked()
    if pat.expired(clock.today().isoformat()):
        raise TokenExpired()
    if user.state != "active":
        raise Unauthenticated()
    identify(user_id=user.id, personal_access_token_id=pat.id)
    scopes.authorize(pat.scopes, request.method)
    return Caller(user=user, token=pat)
