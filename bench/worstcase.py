"""Bounded cost: the worst handler CPU time of every write route over a corpus of hostile
but size-legal inputs, next to the route's median request; and what ``/job/allowed_agents`` reads
when 1, 100 and 1,000 agents authorise one group.

The corpus is a table, ``HOSTILE``: one entry per write route (POST/PUT/DELETE of template.yaml),
each a function of the bench world giving labelled requests. A route added to the template needs
one entry here (tests/test_bench_worstcase.py fails until it has one). CPU is
``time.process_time()`` around the in-process handler call (testkit/client.py): this process's
CPU, the handler and its AWS clients, not moto's (a separate server process)."""

from __future__ import annotations

import base64
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.scenarios import (
    AGENT,
    KAS_CONFIGURATION,
    TOKENS,
    URL,
    URL_CONFIGURATIONS,
    Driver,
    RouteKey,
    Scenario,
    World,
    route_key,
    show,
)
from testkit.client import InProcess, Request

CPU_LIMIT = 0.25  # seconds: no request above this on this machine
MEDIAN_MULTIPLE = 10  # above this many times the route's median only where BENCHMARKS.md says why
KEYS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "keys"
Case = tuple[str, Request]
HOSTILE: dict[RouteKey, Callable[[World], Iterator[Case]]] = {}
_DISCARDED = (
    "its median request is a small report that touches no store, so any large body is many times "
    "it: the worst case reads and validates the largest body the API accepts (5 MiB of counters or "
    "events, every one checked, all discarded); bounded by the body limit of SPEC §1.4"
)
_LONGEST_TEXT = (
    "a field of several MB is read from the largest accepted body and measured before it is refused "
    "(or its repeats collapsed); bounded by the body limit of SPEC §1.4"
)
# Why a route's worst case may pass MEDIAN_MULTIPLE x its median (shown in BENCHMARKS.md).
EXPLAINED = {
    route_key("POST", URL_CONFIGURATIONS): "parsing the largest accepted certificates and key (X.509, PEM) is "
    "the work the route exists for; bounded by the size limits of SPEC §4",
    route_key("POST", KAS_CONFIGURATION): "1,000 ci_access entries (500 projects, 500 groups) are resolved in "
    "10 BatchGetItems of 100 paths; bounded by GitLab's 500-entry limit",
    route_key("POST", "/internal/kubernetes/usage_metrics"): _DISCARDED,
    route_key("POST", "/internal/kubernetes/agent_events"): _DISCARDED,
    route_key("POST", "/projects"): _LONGEST_TEXT,
    route_key("PUT", "/jobs/{}"): _LONGEST_TEXT,
    route_key("POST", "/user/personal_access_tokens"): _LONGEST_TEXT,
}


def hostile(method: str, path: str) -> Callable:
    def register(make: Callable[[World], Iterator[Case]]) -> Callable:
        HOSTILE[route_key(method, path)] = make
        return make

    return register


# ---------------------------------------------------------------- hostile but size-legal parts
def max_body() -> int:
    from cluster_agents.web.request import MAX_BODY_BYTES

    return MAX_BODY_BYTES


def deepest_nesting() -> int:
    """The deepest JSON array nesting this interpreter's parser accepts (in steps of 50)."""
    depth = 50
    while depth < 100_000:
        try:
            json.loads("[" * (depth + 50) + "]" * (depth + 50))
        except RecursionError:
            break
        depth += 50
    return depth


def largest(body: dict) -> dict:
    """``body`` padded with an unknown field to the largest body the API reads (less 64 bytes)."""
    room = max_body() - len(json.dumps(body)) - 64
    return {**body, "padding": "p" * max(room, 0)}


def deepest(body: dict) -> dict:
    depth = deepest_nesting()
    return {**body, "nested": json.loads("[" * depth + "]" * depth)}


def long_string(fraction: float = 1.0) -> str:
    return "n" * int((max_body() - 200) * fraction)


def common(
    method: str, path: str, auth: dict[str, str], body: dict, expect: int | None = None, plain_id: object = 999_999_999
) -> Iterator[Case]:
    """What every route gets: the largest and the deepest body around its ordinary one, and for a
    route with an id in its path (``{id}``) a 5,000-digit one."""
    plain = path.replace("{id}", str(plain_id))
    yield "largest body", Request(method, plain, auth, largest(body), expect=expect)
    yield "deepest JSON", Request(method, plain, auth, deepest(body), expect=expect)
    if "{id}" in path:
        yield "5,000-digit id", Request(method, path.replace("{id}", "9" * 5000), auth, body, expect=expect)


def _b64_file(name: str) -> str:
    return base64.b64encode((KEYS / name).read_bytes()).decode()


# ---------------------------------------------------------------- the corpus, one entry per write route
@hostile("POST", "/users")
def _users(w: World) -> Iterator[Case]:
    yield from common("POST", "/users", w.root_auth, {"username": w.unique("u"), "name": "N", "email": "e@x.org"})
    yield (
        "longest names",
        Request(
            "POST",
            "/users",
            w.root_auth,
            {"username": long_string(0.33), "name": long_string(0.33), "email": long_string(0.3) + "@x.org"},
            expect=None,
        ),
    )


@hostile("POST", "/users/{}/personal_access_tokens")
def _pats(w: World) -> Iterator[Case]:
    path = f"/users/{w.maintainer.id}/personal_access_tokens"
    yield from common("POST", path, w.root_auth, {"name": "t", "scopes": ["api"]})
    yield "many scopes", Request("POST", path, w.root_auth, {"name": "t", "scopes": ["read_api"] * 80_000}, expect=None)
    yield "longest name", Request("POST", path, w.root_auth, {"name": long_string(), "scopes": ["api"]}, expect=None)


@hostile("DELETE", "/personal_access_tokens/{}")
def _revoke_pat(w: World) -> Iterator[Case]:
    yield from common("DELETE", "/personal_access_tokens/{id}", w.root_auth, {})


@hostile("POST", "/groups")
def _groups(w: World) -> Iterator[Case]:
    yield from common("POST", "/groups", w.maintainer.auth, {"name": "G", "path": w.unique("g")})
    yield (
        "longest name and path",
        Request(
            "POST", "/groups", w.maintainer.auth, {"name": long_string(0.45), "path": long_string(0.45)}, expect=None
        ),
    )


@hostile("POST", "/projects")
def _projects(w: World) -> Iterator[Case]:
    yield from common("POST", "/projects", w.maintainer.auth, {"name": w.unique("p")})
    yield "longest name", Request("POST", "/projects", w.maintainer.auth, {"name": long_string()}, expect=None)


def _member_routes(kind: str) -> None:
    base = f"/{kind}s/{{}}/members"

    def source(w: World) -> int:
        return w.bench_group["id"] if kind == "group" else w.fleet["id"]

    @hostile("POST", base)
    def _add(w: World) -> Iterator[Case]:
        path = f"/{kind}s/{source(w)}/members"
        yield from common("POST", path, w.maintainer.auth, {"user_id": 1, "access_level": 30})
        yield (
            "5,000-digit ids",
            Request("POST", path, w.maintainer.auth, {"user_id": "9" * 5000, "access_level": "3" * 5000}, expect=None),
        )

    @hostile("PUT", base + "/{}")
    def _update(w: World) -> Iterator[Case]:
        path = f"/{kind}s/{source(w)}/members/{{id}}"
        member = w.user("member")
        w.member(kind, source(w), member, 30)
        yield from common("PUT", path, w.maintainer.auth, {"access_level": 30}, plain_id=member.id)
        yield (
            "longest expiry",
            Request(
                "PUT",
                path.replace("{id}", str(member.id)),
                w.maintainer.auth,
                {"access_level": 30, "expires_at": long_string()},
                expect=None,
            ),
        )

    @hostile("DELETE", base + "/{}")
    def _remove(w: World) -> Iterator[Case]:
        yield from common("DELETE", f"/{kind}s/{source(w)}/members/{{id}}", w.maintainer.auth, {})


_member_routes("group")
_member_routes("project")


@hostile("POST", "/admin/ci/jobs")
def _jobs(w: World) -> Iterator[Case]:
    body = {"project_id": w.fleet["id"], "user_id": 1}
    yield from common("POST", "/admin/ci/jobs", w.root_auth, body)
    yield (
        "longest environment",
        Request(
            "POST",
            "/admin/ci/jobs",
            w.root_auth,
            {**body, "environment": {"name": long_string(0.5), "tier": long_string(0.4)}},
            expect=None,
        ),
    )


@hostile("PUT", "/jobs/{}")
def _finish_job(w: World) -> Iterator[Case]:
    job_id, token = w.job(w.fleet["id"], w.maintainer.id)
    yield from common("PUT", "/jobs/{id}", {"JOB-TOKEN": token}, {"state": "success"}, plain_id=job_id)
    yield (
        "longest token",
        Request("PUT", f"/jobs/{job_id}", {}, {"token": long_string(), "state": "failed"}, expect=None),
    )


@hostile("POST", "/projects/{}/cluster_agents")
def _agents(w: World) -> Iterator[Case]:
    path = f"/projects/{w.scratch['id']}/cluster_agents"
    yield from common("POST", path, w.maintainer.auth, {"name": w.unique("a")})
    yield "longest name", Request("POST", path, w.maintainer.auth, {"name": long_string()}, expect=None)


@hostile("DELETE", AGENT)
def _delete_agent(w: World) -> Iterator[Case]:
    yield from common("DELETE", f"/projects/{w.scratch['id']}/cluster_agents/{{id}}", w.maintainer.auth, {})


@hostile("POST", TOKENS)
def _tokens(w: World) -> Iterator[Case]:
    path = f"/projects/{w.fleet['id']}/cluster_agents/{w.primary}/tokens"
    yield from common("POST", path, w.maintainer.auth, {"name": ""})
    yield (
        "longest description",
        Request("POST", path, w.maintainer.auth, {"name": "t", "description": long_string()}, expect=None),
    )


@hostile("DELETE", TOKENS + "/{}")
def _revoke_token(w: World) -> Iterator[Case]:
    path = f"/projects/{w.fleet['id']}/cluster_agents/{w.primary}/tokens/{{id}}"
    yield from common("DELETE", path, w.maintainer.auth, {})


@hostile("POST", URL_CONFIGURATIONS)
def _url_configurations(w: World) -> Iterator[Case]:
    def fresh() -> str:
        return f"/projects/{w.scratch['id']}/cluster_agents/{w.agent(w.scratch['id'], 'receptive')}/url_configurations"

    yield from common("POST", fresh(), w.maintainer.auth, {"url": "nope"})
    key, certificate = _b64_file("rsa8192.pem"), _b64_file("rsa8192.crt")
    bundle = base64.b64encode((KEYS / "rsa8192.crt").read_bytes() * 60).decode()  # about 190 KB of PEM
    yield (
        "8192-bit RSA key, invalid url",
        Request(
            "POST",
            fresh(),
            w.maintainer.auth,
            {"url": "nope", "client_cert": certificate, "client_key": key},
            expect=None,
        ),
    )
    yield (
        "8192-bit RSA key and certificate, 201",
        Request(
            "POST", fresh(), w.maintainer.auth, {"url": URL, "client_cert": certificate, "client_key": key}, expect=None
        ),
    )
    yield (
        "largest CA bundle",
        Request(
            "POST",
            fresh(),
            w.maintainer.auth,
            {"url": URL, "ca_cert": bundle, "client_cert": bundle, "client_key": key},
            expect=None,
        ),
    )
    yield (
        "1 MB of base64 garbage",
        Request("POST", fresh(), w.maintainer.auth, {"url": URL, "ca_cert": "A" * (max_body() - 500)}, expect=None),
    )


@hostile("DELETE", URL_CONFIGURATIONS + "/{}")
def _delete_url_configuration(w: World) -> Iterator[Case]:
    agent_id, _ = w.receptive
    path = f"/projects/{w.fleet['id']}/cluster_agents/{agent_id}/url_configurations/{{id}}"
    yield from common("DELETE", path, w.maintainer.auth, {})


@hostile("POST", KAS_CONFIGURATION)
def _agent_configuration(w: World) -> Iterator[Case]:
    from cluster_agents.domain.ci_access import MAX_ENTRY_BYTES

    agent_id = w.agent(w.scratch["id"], "configured")
    headers = w.kas_headers()

    def config(ci_access: dict) -> dict:
        return {"agent_id": agent_id, "agent_config": {"ci_access": ci_access}}

    yield from common("POST", KAS_CONFIGURATION, headers, config({"groups": [{"id": w.bench_group["full_path"]}]}))
    group = w.bench_group["full_path"]
    per_entry = (max_body() - 2000) // 1000
    many = {
        "projects": [{"id": f"{group}/p{n}", "default_namespace": "n" * (per_entry - 90)} for n in range(500)],
        "groups": [{"id": f"{group}/g{n}", "default_namespace": "n" * (per_entry - 90)} for n in range(500)],
    }
    yield "1,000 ci_access entries", Request("POST", KAS_CONFIGURATION, headers, config(many), expect=None)
    patterns = [f"*{'a*' * 10}{n}" for n in range((MAX_ENTRY_BYTES - 40) // 28)]
    yield (
        "many environments patterns",
        Request(
            "POST",
            KAS_CONFIGURATION,
            headers,
            config({"groups": [{"id": group, "environments": patterns}]}),
            expect=None,
        ),
    )
    depth = deepest_nesting() - 10
    yield (
        "deepest access_as",
        Request(
            "POST",
            KAS_CONFIGURATION,
            headers,
            config({"groups": [{"id": group, "access_as": json.loads("[" * depth + "]" * depth)}]}),
            expect=None,
        ),
    )
    yield (
        "largest entries",
        Request(
            "POST",
            KAS_CONFIGURATION,
            headers,
            config({"groups": [{"id": group, "default_namespace": "n" * (MAX_ENTRY_BYTES - 30)}]}),
            expect=None,
        ),
    )


@hostile("POST", "/user/personal_access_tokens")
def _own_pats(w: World) -> Iterator[Case]:
    person = w.user("owner")
    path = "/user/personal_access_tokens"
    yield from common("POST", path, person.auth, {"name": "kubectl", "scopes": ["k8s_proxy"]})
    yield (
        "many scopes",
        Request("POST", path, person.auth, {"name": "t", "scopes": ["k8s_proxy"] * 400_000}, expect=None),
    )
    yield (
        "longest name and description",
        Request(
            "POST",
            path,
            person.auth,
            {"name": long_string(0.45), "scopes": "k8s_proxy", "description": long_string(0.45)},
            expect=None,
        ),
    )


@hostile("POST", "/internal/kubernetes/authorize_proxy_user")
def _authorize_proxy_user(w: World) -> Iterator[Case]:
    path = "/internal/kubernetes/authorize_proxy_user"
    headers = w.kas_headers()
    body = {"agent_id": w.primary, "access_type": "personal_access_token", "access_key": "glpat-unknown"}
    yield from common("POST", path, headers, body)
    yield "longest access key", Request("POST", path, headers, {**body, "access_key": long_string()}, expect=None)
    yield (
        "longest csrf token",
        Request(
            "POST",
            path,
            headers,
            {**body, "access_type": "session_cookie", "csrf_token": long_string(0.5), "access_key": long_string(0.45)},
            expect=None,
        ),
    )


@hostile("POST", "/internal/kubernetes/usage_metrics")
def _usage_metrics(w: World) -> Iterator[Case]:
    path, headers = "/internal/kubernetes/usage_metrics", w.kas_headers()
    yield from common("POST", path, headers, {"counters": {"k8s_api_proxy_request": 1}})
    many = (max_body() - 200) // 9
    yield (
        "largest unique counter",
        Request(
            "POST",
            path,
            headers,
            {
                "unique_counters": {
                    "k8s_api_proxy_requests_unique_users_via_ci_access": list(range(10_000_000, 10_000_000 + many))
                }
            },
            expect=None,
        ),
    )
    yield (
        "every unique counter invalid",
        Request(
            "POST",
            path,
            headers,
            {"unique_counters": {"flux_git_push_notified_unique_projects": ["x"] * (many // 2)}},
            expect=None,
        ),
    )


@hostile("POST", "/internal/kubernetes/agent_events")
def _agent_events(w: World) -> Iterator[Case]:
    path, headers = "/internal/kubernetes/agent_events", w.kas_headers()
    yield from common("POST", path, headers, {"events": {"register_agent_at_kas": [{"project_id": 1}]}})
    many = (max_body() - 200) // 34
    yield (
        "most events",
        Request(
            "POST",
            path,
            headers,
            {"events": {"k8s_api_proxy_requests_unique_users_via_ci_access": [{"user_id": 1, "project_id": 2}] * many}},
            expect=None,
        ),
    )
    yield (
        "every event invalid",
        Request(
            "POST",
            path,
            headers,
            {
                "events": {
                    "k8s_api_proxy_requests_unique_users_via_pat_access": [{"user_id": "x", "project_id": "y"}] * many
                }
            },
            expect=None,
        ),
    )


# ---------------------------------------------------------------- measuring
@dataclass
class RouteCost:
    key: RouteKey
    median: float | None  # CPU seconds of the route's ordinary request (its bench scenario)
    worst: float
    worst_case: str
    statuses: dict[str, int] = field(default_factory=dict)  # case label -> status

    @property
    def name(self) -> str:
        return show(self.key)

    @property
    def server_errors(self) -> list[str]:
        return [label for label, status in self.statuses.items() if status >= 500]


def _cpu(client: InProcess, request: Request) -> tuple[float, int]:
    started = time.process_time()
    response = client.send(request)
    return time.process_time() - started, response.status


def _median_cpu(item: Scenario | None, world: World, client: InProcess, repeats: int) -> float | None:
    if item is None:
        return None
    driver, samples = Driver(item, world), []
    try:
        for _ in range(repeats + 1):
            request = driver.next()
            started = time.process_time()
            response = client.send(request)
            samples.append(time.process_time() - started)
            driver.answered(response)
    except Exception:  # a scenario that cannot run here has no median
        return None
    return statistics.median(samples[1:])


def measure(
    world: World,
    client: InProcess,
    routes: set[RouteKey],
    scenarios: list[Scenario],
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
) -> list[RouteCost]:
    """Every write route of ``routes`` that has a corpus entry: its ordinary request's median CPU
    and its hostile cases' worst."""
    ordinary = {item.key: item for item in scenarios if not item.label}
    costs = []
    for key in sorted(k for k in routes if k in HOSTILE):
        if progress:
            progress(f"  worst case {show(key)}")
        median = _median_cpu(ordinary.get(key), world, client, repeats)
        worst, worst_case, statuses = 0.0, "", {}
        for label, request in HOSTILE[key](world):
            cpu, status = _cpu(client, request)
            statuses[label] = status
            if cpu >= worst:
                worst, worst_case = cpu, label
        costs.append(RouteCost(key, median, worst, worst_case, statuses))
    return costs


def write_routes(routes: set[RouteKey]) -> set[RouteKey]:
    return {key for key in routes if key[0] in ("POST", "PUT", "PATCH", "DELETE")}


if __name__ == "__main__":  # python -m bench.worstcase: this part alone, printed
    print("run it through `python -m bench --skip latency,memory,coldstart,scaling`", file=sys.stderr)
