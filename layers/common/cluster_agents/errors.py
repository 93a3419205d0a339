"""Every failure the service can answer with, as a type. ``web.errors`` turns each type into
GitLab's status and body; nothing else chooses a status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class ServiceError(Exception):
    """Base of every expected failure."""


# ---------------------------------------------------------------- authentication
class Unauthenticated(ServiceError):
    """No credentials, or credentials we do not know."""


class TokenExpired(ServiceError):
    pass


class TokenRevoked(ServiceError):
    pass


class InsufficientScope(ServiceError):
    """A token with none of the scopes the route accepts for its method. ``scope`` is what the
    body names: every scope the route registers, space-separated (``api`` for a read_api token
    on a write, SPEC §1.1)."""

    def __init__(self, scope: str = "api") -> None:
        super().__init__(scope)
        self.scope = scope


class KasAuthenticationInvalid(ServiceError):
    """The Gitlab-Kas-Api-Request JWT is missing, forged or expired."""


class ProxyScopeMissing(InsufficientScope):
    """``authorize_proxy_user`` with a PAT that lacks ``k8s_proxy`` (whatever else it has)."""


class InvalidSession(ServiceError):
    """``authorize_proxy_user`` with a session cookie: there are no web sessions here."""


# ---------------------------------------------------------------- authorization
class Forbidden(ServiceError):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


class UserAccessRefused(ServiceError):
    """``authorize_proxy_user``: the agent's user_access does not let the user through; GitLab's
    message is the whole body (``{"message": "`access_as` is not found ..."}``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- not found
class NotFound(ServiceError):
    """A record that is not there (or that the caller may not know about).

    ``label`` is what GitLab names in its message: ``404 <label>``."""

    label = "Not found"

    def __init__(self, label: str | None = None) -> None:
        super().__init__(label or self.label)
        if label:
            self.label = label


class ProjectNotFound(NotFound):
    label = "Project Not Found"


class GroupNotFound(NotFound):
    label = "Group Not Found"


class UserNotFound(NotFound):
    label = "User Not Found"


class MemberNotFound(NotFound):
    label = "Member Not Found"


class AgentNotFound(NotFound):
    label = "Not found"


class AgentTokenNotFound(NotFound):
    label = "Not found"


class ClusterAgentsNotFound(NotFound):
    label = "ClusterAgents Not Found"


class UrlConfigurationNotFound(NotFound):
    label = "Not Found"


class JobNotFound(NotFound):
    label = "Job Not Found"


class FeatureDisabled(NotFound):
    label = "Not Found"


class ProjectAccessNotFound(NotFound):
    """The agent server asked about a project the agent may not read (or that does not exist)."""

    label = "Not Found"


# ---------------------------------------------------------------- bad requests
class MissingParameters(ServiceError):
    def __init__(self, names: list[str]) -> None:
        super().__init__(", ".join(names))
        self.names = names


class InvalidParameters(ServiceError):
    """Wrong type or value (``agent_id is invalid``, ``access_level does not have a valid value``)."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__(", ".join(messages))
        self.messages = messages


class RequestRejected(ServiceError):
    """A free-form GitLab ``{"error": ...}`` body (e.g. ``name, path are missing, ...``)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


class ValidationFailed(ServiceError):
    """Model validation: full messages such as ``Name can't be blank``, reported all at once."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class Unprocessable(ServiceError):
    """422 with the model's messages as one sentence (``Name can't be blank and Scopes can't be
    blank``), as GitLab's ``render_api_error!(errors.full_messages.to_sentence, 422)``."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class BusinessRuleViolated(ServiceError):
    """``400 Bad request - <reason>``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenLimitReached(BusinessRuleViolated):
    def __init__(self) -> None:
        super().__init__("An agent can have only two active tokens at a time")


class UrlConfigurationExists(BusinessRuleViolated):
    def __init__(self) -> None:
        super().__init__("URL configuration already exists for this agent")


class UserNotIdentified(BusinessRuleViolated):
    """``authorize_proxy_user``: no personal access token has the given value."""

    def __init__(self) -> None:
        super().__init__("Unable to get user from request data")


class CiAccessTooLarge(BusinessRuleViolated):
    """An agent's ci_access authorisation does not fit in what the store keeps for one project or
    group (one DynamoDB item of 400 KB, where each agent's entry takes a few hundred bytes at most:
    so many agents already authorise it). ``sources``:
    ``(kind, id)`` of the project or group (several when the store cannot tell which of them);
    ``names``: how to call them (their paths), when known."""

    def __init__(self, sources: Sequence[tuple[str, int]], names: Mapping[tuple[Any, int], str] | None = None) -> None:
        self.sources, self.names = list(sources), dict(names or {})
        described = " or ".join(f"{kind} {self.names.get((kind, source_id), source_id)}" for kind, source_id in sources)
        super().__init__(f"ci_access: {described} is authorized by more agents than one project or group can hold")

    def naming(self, names: Mapping[tuple[Any, int], str]) -> CiAccessTooLarge:
        """The same error, calling its sources by ``names``."""
        return CiAccessTooLarge(self.sources, names)


class KeyTooLong(BusinessRuleViolated):
    """A write would name a DynamoDB key past its size (partition key 2,048 bytes, sort key 1,024):
    nothing was sent. Every route validates what goes into a key first, with GitLab's message for
    the field; this is the store's own refusal, should one ever slip through."""

    def __init__(self) -> None:
        super().__init__("Key is too long")


class CiAccessEntryTooLarge(BusinessRuleViolated):
    """One ``ci_access`` entry of an agent's configuration holds more than an entry may
    (``domain.ci_access.MAX_ENTRY_BYTES``): ``kind`` project or group, ``path`` as the entry names it."""

    def __init__(self, kind: str, path: str, limit: int, depth: int | None = None) -> None:
        self.kind, self.path, self.limit = kind, path, limit
        shown = path if len(path) <= 255 else path[:255] + "..."
        problem = f"nested too deeply (maximum is {depth} levels)" if depth else f"too large (maximum is {limit} bytes)"
        super().__init__(f"ci_access: the entry for {kind} {shown} is {problem}")


class Conflict(ServiceError):
    """409: ``Username has already been taken``, ``Member already exists``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PreconditionFailed(ServiceError):
    """A stale If-Unmodified-Since."""


class PayloadTooLarge(ServiceError):
    pass


# ---------------------------------------------------------------- the store is busy
class StoreBusy(ServiceError):
    """Throttling, a conflicting transaction or a timeout: nothing was written; try again."""

    def __init__(self, throttled: bool = False, retry_after: int = 1) -> None:
        super().__init__("throttled" if throttled else "busy")
        self.throttled = throttled
        self.retry_after = retry_after
