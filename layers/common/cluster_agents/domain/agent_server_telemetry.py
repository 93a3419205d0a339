"""What the agent server reports (SPEC §7.5): usage metrics and agent events, validated as GitLab's
Grape declarations validate them and then discarded (no product analytics here).

Grape's rules, as GitLab's ``API::Internal::Kubernetes`` declares the parameters:
- an Integer is a JSON integer or a string of digits (surrounding blanks allowed); ``""`` counts as
  absent, like ``null``; anything else (``true``, an object, ``1.5``) is invalid;
- a String is any scalar (numbers become strings); an object or an array is invalid;
- a Hash must be an object, an Array an array (``null`` is absent); when it is not, only its own
  message is reported, not its members';
- validators run in declaration order, a parent before its members, and a member of an array of
  objects is checked over every element before the next member is: so
  ``events[x][0][user_id]``, ``events[x][1][user_id]``, then ``events[x][0][project_id]``;
- an element that is ``null`` is skipped; an element that is not an object has each declared
  member reported invalid (Grape's coercion refuses to read a member of a non-Hash).
Every failure is reported, joined with ``, `` by the caller."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_DIGITS = re.compile(r"\A\s*[+-]?[0-9]+\s*\Z")

COUNTERS = (
    "k8s_api_proxy_request",
    "flux_git_push_notifications_total",
    "k8s_api_proxy_requests_via_ci_access",
    "k8s_api_proxy_requests_via_user_access",
    "k8s_api_proxy_requests_via_pat_access",
)
UNIQUE_COUNTERS = (
    "k8s_api_proxy_requests_unique_users_via_ci_access",
    "k8s_api_proxy_requests_unique_agents_via_ci_access",
    "k8s_api_proxy_requests_unique_users_via_user_access",
    "k8s_api_proxy_requests_unique_agents_via_user_access",
    "k8s_api_proxy_requests_unique_users_via_pat_access",
    "k8s_api_proxy_requests_unique_agents_via_pat_access",
    "flux_git_push_notified_unique_projects",
)

# An object's declared members: kind "integer", "string", or a nested declaration (a Hash).
Declaration = tuple[tuple[str, Any], ...]
_USER_EVENT: Declaration = (("user_id", "integer"), ("project_id", "integer"))
_REGISTER_AGENT: Declaration = (
    ("project_id", "integer"),
    ("agent_version", "string"),
    ("architecture", "string"),
    ("agent_id", "integer"),
    ("kubernetes_version", "string"),
    ("extra_telemetry_data", (("installation_method", "string"), ("helm_chart_version", "string"))),
)
EVENTS: tuple[tuple[str, Declaration], ...] = (
    ("k8s_api_proxy_requests_unique_users_via_ci_access", _USER_EVENT),
    ("k8s_api_proxy_requests_unique_users_via_user_access", _USER_EVENT),
    ("k8s_api_proxy_requests_unique_users_via_pat_access", _USER_EVENT),
    ("register_agent_at_kas", _REGISTER_AGENT),
)


def _absent(value: Any) -> bool:
    return value is None


def valid_integer(value: Any) -> bool:
    """Grape's Integer: a JSON integer or a digit string; ``null`` and ``""`` count as absent."""
    if value is None or isinstance(value, bool):
        return value is None
    if isinstance(value, int):
        return True
    return isinstance(value, str) and (value == "" or bool(_DIGITS.match(value)))


def valid_string(value: Any) -> bool:
    return not isinstance(value, dict | list)


def valid_integer_array(value: Any) -> bool:
    """Grape's ``Array[Integer]``: an array whose elements are integers (or absent)."""
    return value is None or (isinstance(value, list) and all(valid_integer(element) for element in value))


def usage_metrics_problems(params: dict[str, Any]) -> list[str]:
    """The messages of ``POST /internal/kubernetes/usage_metrics``, in declaration order."""
    problems: list[str] = []
    for name, members, valid in (
        ("counters", COUNTERS, valid_integer),
        ("unique_counters", UNIQUE_COUNTERS, valid_integer_array),
    ):
        value = params.get(name)
        if _absent(value):
            continue
        if not isinstance(value, dict):
            problems.append(f"{name} is invalid")
            continue
        problems += [f"{name}[{member}] is invalid" for member in members if not valid(value.get(member))]
    return problems


def agent_events_problems(params: dict[str, Any]) -> list[str]:
    """The messages of ``POST /internal/kubernetes/agent_events``, in declaration order."""
    events = params.get("events")
    if _absent(events):
        return []
    if not isinstance(events, dict):
        return ["events is invalid"]
    problems: list[str] = []
    for name, declaration in EVENTS:
        elements = events.get(name)
        if _absent(elements):
            continue
        if not isinstance(elements, list):
            problems.append(f"events[{name}] is invalid")
            continue
        problems += _elements_problems(f"events[{name}]", elements, declaration)
    return problems


def _elements_problems(prefix: str, elements: list[Any], declaration: Declaration) -> list[str]:
    """Each declared member over every element, member after member (Grape's order). Names are
    built only for the failures: a valid element costs a few type checks."""
    problems: list[str] = []
    for member, kind in declaration:
        for index, element in enumerate(elements):
            if element is not None and not _member_valid(element, member, kind):
                problems += _member_problems(f"{prefix}[{index}]", element, member, kind)
    return problems


def _member_valid(element: Any, member: str, kind: Any) -> bool:
    if not isinstance(element, dict):
        return False
    value = element.get(member)
    if kind == "integer":
        return valid_integer(value)
    if kind == "string":
        return valid_string(value)
    return value is None or (
        isinstance(value, dict) and all(_member_valid(value, inner, inner_kind) for inner, inner_kind in kind)
    )


def _member_problems(prefix: str, element: Any, member: str, kind: Any) -> Iterator[str]:
    name = f"{prefix}[{member}]"
    if not isinstance(element, dict):
        yield f"{name} is invalid"
        return
    value = element.get(member)
    if kind == "integer":
        if not valid_integer(value):
            yield f"{name} is invalid"
    elif kind == "string":
        if not valid_string(value):
            yield f"{name} is invalid"
    elif not _absent(value):  # a nested Hash
        if not isinstance(value, dict):
            yield f"{name} is invalid"
            return
        for inner, inner_kind in kind:
            yield from _member_problems(name, value, inner, inner_kind)
