"""Every failure the service can answer with, as a type. ``web.errors`` turns each type into
GitLab's status and body; nothing else chooses a status."""

from __future__ import annotations


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
    """A read_api token on a write."""


class KasAuthenticationInvalid(ServiceError):
    """The Gitlab-Kas-Api-Request JWT is missing, forged or expired."""


# ---------------------------------------------------------------- authorization
class Forbidden(ServiceError):
    def __init__(self, reason: str = "") -> None:
        super().__init__(reason)
        self.reason = reason


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


class CiAccessTooLarge(BusinessRuleViolated):
    """An agent's ci_access authorisation does not fit in what the store keeps for one project or
    group (one DynamoDB item: 400 KB for every agent's authorisation of it together). ``sources``:
    ``(kind, id)`` of the project or group (several when the store cannot tell which of them);
    ``names``: how to call them (their paths), when known."""

    def __init__(self, sources: list[tuple[str, int]], names: dict[tuple[str, int], str] | None = None) -> None:
        self.sources, self.names = sources, names or {}
        described = " or ".join(f"{kind} {self.names.get((kind, source_id), source_id)}"
                                for kind, source_id in sources)
        super().__init__(f"ci_access: the authorizations of {described} exceed the 400 KB one project "
                         "or group can hold")

    def naming(self, names: dict[tuple[str, int], str]) -> CiAccessTooLarge:
        """The same error, calling its sources by ``names``."""
        return CiAccessTooLarge(self.sources, names)


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
