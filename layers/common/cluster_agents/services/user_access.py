"""``POST /internal/kubernetes/authorize_proxy_user`` (SPEC §7.4): may this user reach the
cluster through this agent, and as whom. GitLab's ``API::Internal::Kubernetes`` route with its
``AuthorizeProxyUserService`` (EE's ``access_as: user`` included)."""

from __future__ import annotations

from dataclasses import dataclass

from cluster_agents import clock
from cluster_agents.crypto import digest
from cluster_agents.domain import user_access as rules
from cluster_agents.domain.agents import Agent
from cluster_agents.domain.models import PersonalAccessToken, User
from cluster_agents.errors import (
    AgentNotFound,
    Forbidden,
    InvalidSession,
    ProxyScopeMissing,
    StoreBusy,
    TokenExpired,
    TokenRevoked,
    Unauthenticated,
    UserAccessRefused,
    UserNotIdentified,
)
from cluster_agents.observability import count, identify, logger
from cluster_agents.store import dynamo
from cluster_agents.store.memberships import memberships
from cluster_agents.store.personal_access_tokens import personal_access_tokens
from cluster_agents.store.user_access import user_access

K8S_PROXY_SCOPE = "k8s_proxy"
SESSION_COOKIE = "session_cookie"
#: The 403 messages of the agent's user_access, in the order they are checked.
REFUSALS = (rules.NO_USER_ACCESS, rules.NO_ACCESS_AS, rules.ACCESS_AS_NOT_ONCE, rules.NOT_A_MEMBER)


@dataclass(frozen=True)
class ProxyAuthorization:
    agent: Agent
    user: User
    mode: rules.Mode
    through: list[rules.Authorized]  # the stored projects, then groups, the user is authorised through


def authorize_proxy_user(agent_id: int, access_type: str, access_key: str) -> ProxyAuthorization:
    """The user behind ``access_key`` and what the agent's user_access grants them, checked in
    GitLab's order: the user (400, 401, 403 insufficient_scope), the agent (404), then the agent's
    configuration and the user's memberships (403).

    Two reads: the token, the agent and its user_access in one BatchGetItem, then - for a user who
    is not an administrator - their memberships of every stored project and group (with its
    groups or ancestors) in another; plus, at most once a minute per token, the token's
    ``last_used_at``."""
    identify(agent_id=agent_id)
    if access_type == SESSION_COOKIE:
        raise InvalidSession()  # no web sessions here: no cookie matches one
    if not access_key.strip():  # Rails' present?: nothing to look up
        raise UserNotIdentified()
    token_digest = digest(access_key)
    found, (agent, granted) = dynamo.read_together(
        personal_access_tokens().pat_reading(token_digest), user_access().of_agent(agent_id)
    )
    user = _user(found, token_digest)
    if agent is None:
        raise AgentNotFound()
    refusal = rules.refusal(granted)
    if refusal or granted is None:
        raise UserAccessRefused(refusal or rules.NO_USER_ACCESS)
    mode = rules.mode(granted)
    if mode is None:
        raise Forbidden()
    held = [] if user.is_admin else memberships().of(user.id, rules.membership_sources(granted))
    through = rules.authorized(user, granted, held, clock.today().isoformat())
    if not through:
        raise UserAccessRefused(rules.NOT_A_MEMBER)
    return ProxyAuthorization(agent, user, mode, through)


def _user(found: tuple[PersonalAccessToken, User] | None, token_digest: str) -> User:
    """The token's user (GitLab's ``validate_access_token!``: expired, then revoked, then the
    scope), recording the token's use."""
    if found is None:
        raise UserNotIdentified()
    pat, user = found
    if pat.expires_at and pat.expires_at <= clock.today().isoformat():
        raise TokenExpired()
    if pat.revoked:
        raise TokenRevoked()
    if K8S_PROXY_SCOPE not in pat.scopes:
        raise ProxyScopeMissing()
    if user.state != "active":
        raise Unauthenticated()
    identify(user_id=user.id, personal_access_token_id=pat.id)
    try:
        if personal_access_tokens().record_pat_use(token_digest, pat):
            count("PersonalAccessTokenUseRecorded")
    except StoreBusy:  # as GitLab: tracking a use never fails the request
        logger().warning("personal access token use not recorded", extra={"personal_access_token_id": pat.id})
    return user
