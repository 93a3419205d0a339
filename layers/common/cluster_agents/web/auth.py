"""Who is calling: a user with a personal access token, or a CI job with its job token."""

from __future__ import annotations

from dataclasses import dataclass

from cluster_agents import clock
from cluster_agents.domain.models import Job, PersonalAccessToken, User
from cluster_agents.errors import InsufficientScope, TokenExpired, TokenRevoked, Unauthenticated
from cluster_agents.observability import identify
from cluster_agents.secrets import digest
from cluster_agents.store.directory import directory
from cluster_agents.web.request import Request, current

READ_METHODS = ("GET", "HEAD", "OPTIONS")


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


def current_user() -> Caller:
    """The user behind the request's personal access token (memoised per request)."""
    request = current()
    if "caller" not in request.state:
        request.state["caller"] = _authenticate_pat(request)
    return request.state["caller"]


def _authenticate_pat(request: Request) -> Caller:
    token = personal_access_token(request)
    if not token:
        raise Unauthenticated()
    found = directory().get_pat_by_digest(digest(token))
    if not found:
        raise Unauthenticated()
    pat, user = found
    if pat.revoked:
        raise TokenRevoked()
    if pat.expires_at and pat.expires_at < clock.today().isoformat():
        raise TokenExpired()
    if user.state != "active":
        raise Unauthenticated()
    identify(user_id=user.id, personal_access_token_id=pat.id)
    writes = "api" in pat.scopes
    if not writes and ("read_api" not in pat.scopes or request.method not in READ_METHODS):
        raise InsufficientScope()
    return Caller(user=user, token=pat)

