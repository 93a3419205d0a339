"""The one place where a failure becomes a status and a GitLab-shaped body."""

from __future__ import annotations

import json

from cluster_agents import errors as e


def ruby_list(messages: list[str]) -> str:
    """A list of strings as Ruby prints it: ``["A", "B"]``."""
    return "[" + ", ".join(json.dumps(message, ensure_ascii=False) for message in messages) + "]"


def to_sentence(messages: list[str]) -> str:
    """Rails' ``Array#to_sentence``: ``A``, ``A and B``, ``A, B, and C``."""
    if len(messages) <= 2:
        return " and ".join(messages)
    return ", ".join(messages[:-1]) + ", and " + messages[-1]


def status_and_body(error: e.ServiceError) -> tuple[int, dict, dict[str, str]]:
    """(status, body, extra headers) for an expected failure."""
    match error:
        case e.Unauthenticated():
            return 401, {"message": "401 Unauthorized"}, {}
        case e.TokenExpired():
            return (
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token is expired. You can either do re-authorization or token refresh.",
                },
                {},
            )
        case e.TokenRevoked():
            return (
                401,
                {
                    "error": "invalid_token",
                    "error_description": "Token was revoked. You have to re-authorize from the user.",
                },
                {},
            )
        case e.KasAuthenticationInvalid():
            return 401, {"message": "KAS JWT authentication invalid"}, {}
        case e.InvalidSession():
            return 401, {"message": "401 Unauthorized - Invalid session"}, {}
        case e.ProxyScopeMissing():
            return (
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": "k8s_proxy",
                },
                {},
            )
        case e.InsufficientScope(scope=scope):
            return (
                403,
                {
                    "error": "insufficient_scope",
                    "error_description": "The request requires higher privileges than provided by the access token.",
                    "scope": scope,
                },
                {},
            )
        case e.UserAccessRefused(message=message):
            return 403, {"message": message}, {}
        case e.Forbidden(reason=reason):
            return 403, {"message": f"403 Forbidden - {reason}" if reason else "403 Forbidden"}, {}
        case e.NotFound(label=label):
            return 404, {"message": f"404 {label}"}, {}
        case e.MissingParameters(names=names):
            return 400, {"error": ", ".join(f"{name} is missing" for name in names)}, {}
        case e.InvalidParameters(messages=messages):
            return 400, {"error": ", ".join(messages)}, {}
        case e.RequestRejected(error=text):
            return 400, {"error": text}, {}
        case e.ValidationFailed(messages=messages):
            return 400, {"message": f"400 Bad request - {ruby_list(messages)}"}, {}
        case e.Unprocessable(messages=messages):
            return 422, {"message": to_sentence(messages)}, {}
        case e.BusinessRuleViolated(reason=reason):
            return 400, {"message": f"400 Bad request - {reason}"}, {}
        case e.Conflict(message=message):
            return 409, {"message": message}, {}
        case e.PreconditionFailed():
            return 412, {"message": "412 Precondition Failed"}, {}
        case e.PayloadTooLarge():
            return 413, {"message": "413 Request Entity Too Large"}, {}
        case e.StoreBusy(throttled=True, retry_after=seconds):
            return 429, {"message": "429 Too Many Requests"}, {"Retry-After": str(seconds)}
        case e.StoreBusy(retry_after=seconds):
            return 503, {"message": "503 Service Unavailable"}, {"Retry-After": str(seconds)}
    return 500, {"message": "500 Internal Server Error"}, {}


UNEXPECTED: tuple[int, dict, dict[str, str]] = (500, {"message": "500 Internal Server Error"}, {})
ROUTE_NOT_FOUND: tuple[int, dict, dict[str, str]] = (404, {"error": "404 Not Found"}, {})
