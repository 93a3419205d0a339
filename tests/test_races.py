"""Races through the local API (make serve): several worker processes racing like Lambda
containers over one moto server holding the template's tables, hundreds of mixed requests from a
pool of 32 threads. Whatever the interleaving:

- an agent never has more than two active tokens (watched while the race runs, and counted after);
- an agent never has more than one URL configuration, and ``is_receptive`` says whether it has one;
- agent names stay unique per project, and every counter equals what it counts;
- nothing is left of a deleted agent (tokens, their lookup items, its URL configuration);
- no request is answered 5xx other than a retryable 503 (retried here, as GitLab's clients do);
- ``authorize_proxy_user`` answers from one whole user_access configuration, never a mix of two.

After each race the whole agents table is scanned from the local API's own moto endpoint and run
through ``ops.invariants.check_items`` - the same checker ``make check`` runs against a deployment."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.conftest import E2E_ROOT_TOKEN
from tests.tables import scan_all

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local_api")]

POOL = 32
LIMIT = {"message": "400 Bad request - An agent can have only two active tokens at a time"}
EXISTS = {"message": "400 Bad request - URL configuration already exists for this agent"}
TAKEN = {"message": '400 Bad request - ["Name has already been taken"]'}
RECORD_NOT_FOUND = {"message": "404 Not found"}
NOT_FOUND = {"message": "404 Not Found"}

_local = threading.local()


def _session() -> requests.Session:
    """One keep-alive connection per thread, authenticated as root."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        _local.session.headers["PRIVATE-TOKEN"] = E2E_ROOT_TOKEN
    return _local.session


class Calls:
    """Every answer of a race, by kind of call (status, body)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, Any]]] = {}
        self.retried = 0
        self.lock = threading.Lock()

    def send(self, kind: str, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
        for _ in range(30):
            response = _session().request(method, url, timeout=60, **kwargs)
            if response.status_code not in (429, 503):
                break
            assert "Retry-After" in response.headers, response.headers
            with self.lock:
                self.retried += 1
            time.sleep(random.uniform(0.01, 0.1))
        answer = (response.status_code, response.json() if response.content else None)
        with self.lock:
            self.answers.setdefault(kind, []).append(answer)
        return answer

    def statuses(self, kind: str) -> Counter:
        return Counter(status for status, _ in self.answers.get(kind, []))

    def total(self) -> int:
        return sum(len(answers) for answers in self.answers.values())


def _run(tasks: list[Callable[[], Any]]) -> None:
    """All tasks, shuffled, on a pool of POOL threads; any exception fails the test."""
    random.shuffle(tasks)
    with ThreadPoolExecutor(POOL) as pool:
        for future in [pool.submit(task) for task in tasks]:
            future.result()


def _scan(local_api) -> list[dict[str, Any]]:
    return list(scan_all(local_api.store_client(), "AgentsTable"))


def assert_invariants(local_api) -> list[dict[str, Any]]:
    from cluster_agents.ops.invariants import check_items

    items = _scan(local_api)
    report = check_items(items)
    assert report.ok, "\n".join(report.violations)
    return items


def _no_server_errors(calls: Calls) -> None:
    errors = [(kind, answer) for kind, answers in calls.answers.items() for answer in answers if answer[0] >= 500]
    assert not errors, errors[:5]


@pytest.fixture
def project(local_api) -> dict:
    made = _session().post(f"{local_api.base_url}/projects", json={"name": f"races-{uuid.uuid4().hex[:8]}"}, timeout=60)
    assert made.status_code == 201, made.text
    return made.json()


def _agent(local_api, project: dict, name: str) -> int:
    made = Calls().send(
        "setup", "POST", f"{local_api.base_url}/projects/{project['id']}/cluster_agents", json={"name": name}
    )
    assert made[0] == 201, made
    return made[1]["id"]


# ---------------------------------------------------------------- tokens
def test_token_creates_and_revokes_on_one_agent(local_api, project):
    agent = _agent(local_api, project, "contended")
    tokens = f"{local_api.base_url}/projects/{project['id']}/cluster_agents/{agent}/tokens"
    calls = Calls()
    most_listed = []

    def create(n: int) -> None:
        calls.send("create", "POST", tokens, json={"name": f"token-{n}"})

    def revoke() -> None:
        status, listed = calls.send("list", "GET", tokens)
        assert status == 200
        most_listed.append(len(listed))
        if listed:
            calls.send("revoke", "DELETE", f"{tokens}/{random.choice(listed)['id']}")

    def watch() -> None:
        status, listed = calls.send("list", "GET", tokens)
        assert status == 200
        most_listed.append(len(listed))

    # 150 creates, 80 list-then-revoke (up to 160 requests), 50 watchers: about 350 requests.
    _run([lambda n=n: create(n) for n in range(150)] + [revoke] * 80 + [watch] * 50)

    _no_server_errors(calls)
    assert max(most_listed) <= 2, Counter(most_listed)
    assert set(calls.statuses("create")) <= {201, 400}, calls.statuses("create")
    assert all(body == LIMIT for status, body in calls.answers["create"] if status == 400)
    assert calls.statuses("create")[201] >= 2
    assert set(calls.statuses("revoke")) <= {204}, calls.statuses("revoke")  # revoking a revoked token is 204 too
    created = {body["id"] for status, body in calls.answers["create"] if status == 201}
    final = calls.send("list", "GET", tokens)[1]
    assert len(final) <= 2 and {token["id"] for token in final} <= created

    items = assert_invariants(local_api)
    partition = [i for i in items if i["pk"] == f"AGENT#{agent}"]
    agent_item = next(i for i in partition if i["sk"] == "A")
    active = [i for i in partition if i["sk"].startswith("AT#")]
    revoked = [i for i in partition if i["sk"].startswith("RT#")]
    assert agent_item["active_tokens"] == len(active) == len(final)
    assert {i["id"] for i in active} | {i["id"] for i in revoked} == created  # every created token kept, once
    assert not {i["id"] for i in active} & {i["id"] for i in revoked}
    print(
        f"\ntokens: {calls.total()} requests, {calls.retried} retried, {len(created)} created, "
        f"{len(revoked)} revoked, {len(active)} active"
    )


# ---------------------------------------------------------------- URL configurations
def test_url_configuration_creates_and_deletes(local_api, project):
    agents = [_agent(local_api, project, f"receptive-{n}") for n in range(3)]
    base = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    calls = Calls()

    def create(agent: int, n: int) -> None:
        calls.send(
            "create", "POST", f"{base}/{agent}/url_configurations", json={"url": f"grpcs://agent-{n}.example.com:443"}
        )

    def delete(agent: int) -> None:
        status, listed = calls.send("list", "GET", f"{base}/{agent}/url_configurations")
        assert status == 200 and len(listed) <= 1, listed
        if listed:
            calls.send("delete", "DELETE", f"{base}/{agent}/url_configurations/{listed[0]['id']}")

    tasks: list[Callable[[], Any]] = []
    for agent in agents:
        tasks += [lambda a=agent, n=n: create(a, n) for n in range(14)] + [lambda a=agent: delete(a)] * 8
    _run(tasks)

    _no_server_errors(calls)
    assert set(calls.statuses("create")) <= {201, 400}, calls.statuses("create")
    assert all(body == EXISTS for status, body in calls.answers["create"] if status == 400)
    assert set(calls.statuses("delete")) <= {204, 404}, calls.statuses("delete")
    assert all(body == NOT_FOUND for status, body in calls.answers.get("delete", []) if status == 404)
    assert calls.statuses("create")[201] - calls.statuses("delete")[204] in range(len(agents) + 1)

    items = assert_invariants(local_api)
    for agent in agents:
        partition = [i for i in items if i["pk"] == f"AGENT#{agent}"]
        configurations = [i for i in partition if i["sk"] == "U"]
        assert len(configurations) <= 1
        assert next(i for i in partition if i["sk"] == "A")["is_receptive"] is bool(configurations)
    left = sum(1 for agent in agents for i in items if i["pk"] == f"AGENT#{agent}" and i["sk"] == "U")
    assert left == calls.statuses("create")[201] - calls.statuses("delete")[204]
    print(f"\nurl configurations: {calls.total()} requests, {calls.retried} retried")


# ---------------------------------------------------------------- names
def test_same_name_creates_and_deletes(local_api, project):
    base = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    names = [f"same-{n}" for n in range(4)]
    calls = Calls()
    deleted: set[int] = set()  # two deletes of one agent may both answer 204 (DELETE is idempotent)

    def create(name: str) -> None:
        calls.send("create", "POST", base, json={"name": name})

    def delete(name: str) -> None:
        status, listed = calls.send("list", "GET", base, params={"per_page": 100})
        assert status == 200
        assert len({agent["name"] for agent in listed}) == len(listed), listed  # names unique at every moment
        found = [agent for agent in listed if agent["name"] == name]
        if found:
            status, _ = calls.send("delete", "DELETE", f"{base}/{found[0]['id']}")
            if status == 204:
                deleted.add(found[0]["id"])

    tasks: list[Callable[[], Any]] = []
    for name in names:
        tasks += [lambda n=name: create(n)] * 12 + [lambda n=name: delete(n)] * 4
    _run(tasks)

    _no_server_errors(calls)
    assert set(calls.statuses("create")) <= {201, 400}, calls.statuses("create")
    assert all(body == TAKEN for status, body in calls.answers["create"] if status == 400)
    assert set(calls.statuses("delete")) <= {204, 404}, calls.statuses("delete")
    assert all(body == RECORD_NOT_FOUND for status, body in calls.answers.get("delete", []) if status == 404)
    listed = calls.send("list", "GET", base, params={"per_page": 100})
    assert sorted(agent["name"] for agent in listed[1]) == sorted(set(agent["name"] for agent in listed[1]))
    created = {body["id"] for status, body in calls.answers["create"] if status == 201}
    assert deleted <= created
    assert {agent["id"] for agent in listed[1]} == created - deleted

    items = assert_invariants(local_api)
    stats = next(i for i in items if i["pk"] == f"PROJECT#{project['id']}" and i["sk"] == "#STATS")
    assert stats["agent_count"] == len(listed[1])
    print(f"\nnames: {calls.total()} requests, {calls.retried} retried")


# ---------------------------------------------------------------- deletes against writes
def test_agent_deletes_racing_token_and_configuration_writes(local_api, project):
    base = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    agents = [_agent(local_api, project, f"doomed-{n}") for n in range(6)]
    calls = Calls()
    first_tokens = {
        agent: Calls().send("setup", "POST", f"{base}/{agent}/tokens", json={"name": "first"})[1] for agent in agents
    }

    tasks: list[Callable[[], Any]] = []
    for agent in agents:
        tokens = f"{base}/{agent}/tokens"
        tasks += [lambda u=tokens, n=n: calls.send("token", "POST", u, json={"name": f"t{n}"}) for n in range(8)]
        tasks += [lambda u=f"{tokens}/{first_tokens[agent]['id']}": calls.send("revoke", "DELETE", u)] * 2
        tasks += [
            lambda u=f"{base}/{agent}/url_configurations", n=n: calls.send(
                "configuration", "POST", u, json={"url": f"grpc://c{n}.example.com:80"}
            )
            for n in range(3)
        ]
        tasks += [lambda u=f"{base}/{agent}", a=agent: calls.send(f"delete {a}", "DELETE", u)] * 2
    _run(tasks)

    _no_server_errors(calls)
    for agent in agents:  # the second delete finds nothing (404), or both saw it and both answer 204
        assert calls.statuses(f"delete {agent}")[204] >= 1, calls.statuses(f"delete {agent}")
        assert set(calls.statuses(f"delete {agent}")) <= {204, 404}
        assert all(body == RECORD_NOT_FOUND for status, body in calls.answers[f"delete {agent}"] if status == 404)
    assert set(calls.statuses("token")) <= {201, 400, 404}, calls.statuses("token")
    assert set(calls.statuses("configuration")) <= {201, 400, 404}, calls.statuses("configuration")
    assert set(calls.statuses("revoke")) <= {204, 404}, calls.statuses("revoke")

    items = assert_invariants(local_api)
    for agent in agents:
        assert calls.send("check", "GET", f"{base}/{agent}")[0] == 404
        assert not [i for i in items if i["pk"] == f"AGENT#{agent}"]
        assert not [i for i in items if i.get("agent_id") == agent]  # no lookup item, no ci_access item
    stats = next(i for i in items if i["pk"] == f"PROJECT#{project['id']}" and i["sk"] == "#STATS")
    assert stats["agent_count"] == 0
    print(f"\ndeletes: {calls.total()} requests, {calls.retried} retried")


# ---------------------------------------------------------------- ci_access
def _kas_headers(local_api) -> dict[str, str]:
    """A fresh request JWT of the agent server (valid for 30 s: retries of one request reuse it)."""
    import base64

    import jwt

    now = int(time.time())
    claims = {"iss": "gitlab-kas", "aud": "gitlab", "exp": now + 30, "iat": now, "nbf": now - 5}
    return {"Gitlab-Kas-Api-Request": jwt.encode(claims, base64.b64decode(local_api.kas_secret), algorithm="HS256")}


@pytest.fixture
def hierarchy(local_api) -> dict:
    """A group with a subgroup, the agents' project in the group and a job's project in the subgroup."""
    base = local_api.base_url
    suffix = uuid.uuid4().hex[:8]
    group = _session().post(f"{base}/groups", json={"name": f"Ci {suffix}", "path": f"ci-{suffix}"}, timeout=60)
    assert group.status_code == 201, group.text
    team = _session().post(
        f"{base}/groups", json={"name": "Team", "path": "team", "parent_id": group.json()["id"]}, timeout=60
    )
    assert team.status_code == 201, team.text
    made = {}
    for name, namespace in (("kube", group.json()), ("app", team.json())):
        response = _session().post(f"{base}/projects", json={"name": name, "namespace_id": namespace["id"]}, timeout=60)
        assert response.status_code == 201, response.text
        made[name] = response.json()
    return {"group": group.json(), "team": team.json(), **made}


def _ci_access_item(items: list[dict[str, Any]], kind: str, source_id: int) -> dict[str, Any]:
    """The entries of a project's or group's ci_access item: ``{agent id: configuration}``."""
    import json

    item = next((i for i in items if i["pk"] == f"CIACCESS#{kind}#{source_id}" and i["sk"] == "ALL"), {})
    return {int(name[1:]): json.loads(entry["c"]) for name, entry in item.items() if name[1:].isdigit()}


def test_agents_configuring_the_same_group_at_once_all_end_up_in_its_item(local_api, hierarchy):
    """Every agent's configuration adds its entry to the same CIACCESS# items (the group's and the
    project's) at the same moment, three times over: none is lost, each ends with its last."""
    url = f"{local_api.base_url}/internal/kubernetes/agent_configuration"
    agents = [_agent(local_api, hierarchy["kube"], f"shared-{n}") for n in range(8)]
    group, team, app = hierarchy["group"], hierarchy["team"], hierarchy["app"]
    calls = Calls()

    def configuration(agent: int, round_: int) -> dict:
        return {
            "ci_access": {
                "groups": [
                    {"id": group["full_path"], "default_namespace": f"g{agent}-{round_}"},
                    {"id": team["full_path"], "default_namespace": f"t{agent}-{round_}"},
                ],
                "projects": [{"id": app["path_with_namespace"], "default_namespace": f"p{agent}-{round_}"}],
            }
        }

    def configure(agent: int) -> None:  # one agent's configurations in order; the agents race each other
        for round_ in range(3):
            status, body = calls.send(
                "configure",
                "POST",
                url,
                headers=_kas_headers(local_api),
                json={"agent_id": agent, "agent_config": configuration(agent, round_)},
            )
            assert status == 204, body

    _run([lambda a=agent: configure(a) for agent in agents])

    _no_server_errors(calls)
    items = assert_invariants(local_api)
    assert _ci_access_item(items, "group", group["id"]) == {
        agent: {"default_namespace": f"g{agent}-2"} for agent in agents
    }
    assert _ci_access_item(items, "group", team["id"]) == {
        agent: {"default_namespace": f"t{agent}-2"} for agent in agents
    }
    assert _ci_access_item(items, "project", app["id"]) == {
        agent: {"default_namespace": f"p{agent}-2"} for agent in agents
    }
    job = _session().post(
        f"{local_api.base_url}/admin/ci/jobs", json={"project_id": app["id"], "user_id": 1}, timeout=60
    )
    assert job.status_code == 201, job.text
    allowed = requests.get(
        f"{local_api.base_url}/job/allowed_agents", headers={"JOB-TOKEN": job.json()["token"]}, timeout=60
    )
    assert allowed.status_code == 200, allowed.text
    assert [(a["id"], a["configuration"]) for a in allowed.json()["allowed_agents"]] == [
        (agent, {"default_namespace": f"p{agent}-2"}) for agent in sorted(agents)
    ]  # the project's entries win
    print(f"\nci_access: {calls.total()} requests, {calls.retried} retried")


def test_agent_deletes_racing_configurations_of_the_same_group(local_api, hierarchy):
    """Half the agents are deleted while every agent configures the same group and project: the
    deleted ones leave no entry in any CIACCESS# item, the others keep theirs."""
    base = f"{local_api.base_url}/projects/{hierarchy['kube']['id']}/cluster_agents"
    url = f"{local_api.base_url}/internal/kubernetes/agent_configuration"
    agents = [_agent(local_api, hierarchy["kube"], f"racing-{n}") for n in range(8)]
    doomed, kept = agents[::2], agents[1::2]
    group, app = hierarchy["group"], hierarchy["app"]
    calls = Calls()
    config = {"ci_access": {"groups": [{"id": group["full_path"]}], "projects": [{"id": app["path_with_namespace"]}]}}

    tasks: list[Callable[[], Any]] = []
    for agent in agents:
        tasks += [
            lambda a=agent: calls.send(
                f"configure {a}",
                "POST",
                url,
                headers=_kas_headers(local_api),
                json={"agent_id": a, "agent_config": config},
            )
        ] * 3
    for agent in doomed:
        tasks += [lambda a=agent: calls.send(f"delete {a}", "DELETE", f"{base}/{a}")] * 2
    _run(tasks)

    _no_server_errors(calls)
    for agent in kept:
        assert set(calls.statuses(f"configure {agent}")) == {204}, calls.answers[f"configure {agent}"]
    for agent in doomed:
        assert set(calls.statuses(f"configure {agent}")) <= {204, 404}, calls.answers[f"configure {agent}"]
        assert calls.statuses(f"delete {agent}")[204] >= 1, calls.statuses(f"delete {agent}")
    items = assert_invariants(local_api)
    assert _ci_access_item(items, "group", group["id"]) == {agent: {} for agent in kept}
    assert _ci_access_item(items, "project", app["id"]) == {agent: {} for agent in kept}
    for agent in doomed:
        assert not [i for i in items if i["pk"] == f"AGENT#{agent}" or f"a{agent}" in i]
    print(f"\nci_access deletes: {calls.total()} requests, {calls.retried} retried")


# ---------------------------------------------------------------- user_access
def test_authorizations_racing_user_access_replacements_see_one_configuration_or_the_other(local_api, hierarchy):
    """Writers replace one agent's configuration over and over (four configurations, two of them
    authorising the same user through different grants) while authorize_proxy_user asks about that
    user: every answer is exactly one configuration's, never a mix of two."""
    base = local_api.base_url
    url = f"{base}/internal/kubernetes/agent_configuration"
    agent = _agent(local_api, hierarchy["kube"], "proxy")
    group, team, app, kube = hierarchy["group"], hierarchy["team"], hierarchy["app"], hierarchy["kube"]
    name = f"proxied-{uuid.uuid4().hex[:8]}"
    user = (
        _session()
        .post(f"{base}/users", json={"username": name, "name": name, "email": f"{name}@example.com"}, timeout=60)
        .json()
    )
    token = (
        _session()
        .post(
            f"{base}/users/{user['id']}/personal_access_tokens", json={"name": "k", "scopes": ["k8s_proxy"]}, timeout=60
        )
        .json()["token"]
    )
    for kind, source in (("groups", team), ("projects", kube)):
        made = _session().post(
            f"{base}/{kind}/{source['id']}/members", json={"user_id": user["id"], "access_level": 30}, timeout=60
        )
        assert made.status_code == 201, made.text
    developer = ["guest", "planner", "reporter", "developer"]
    configurations = [  # (configuration, the answer it gives)
        (
            {
                "ci_access": {"groups": [{"id": group["full_path"]}]},
                "user_access": {
                    "access_as": {"user": {}},
                    "projects": [{"id": app["path_with_namespace"]}, {"id": kube["path_with_namespace"]}],
                },
            },
            (
                201,
                {
                    "user": {
                        "projects": [{"id": pid, "roles": developer} for pid in sorted((app["id"], kube["id"]))],
                        "groups": [],
                    }
                },
            ),
        ),
        (
            {"user_access": {"access_as": {"user": {}}, "groups": [{"id": team["full_path"]}]}},
            (201, {"user": {"projects": [], "groups": [{"id": team["id"], "roles": developer}]}}),
        ),
        (
            {"ci_access": {"projects": [{"id": app["path_with_namespace"]}]}},
            (403, {"message": "`user_access` keyword is not found in agent config file."}),
        ),
        (
            {
                "user_access": {
                    "access_as": {"agent": {}},
                    "groups": [{"id": group["full_path"]}],
                    "projects": [{"id": app["path_with_namespace"]}],
                }
            },
            (201, {"agent": {}}),
        ),
    ]
    expected = [answer for _, answer in configurations]
    calls = Calls()

    def write(offset: int) -> None:
        for round_ in range(8):
            config = configurations[(offset + round_) % len(configurations)][0]
            status, body = calls.send(
                "configure",
                "POST",
                url,
                headers=_kas_headers(local_api),
                json={"agent_id": agent, "agent_config": config},
            )
            assert status == 204, body

    seen: list[tuple[int, Any]] = []

    def read() -> None:
        status, body = calls.send(
            "authorize",
            "POST",
            f"{base}/internal/kubernetes/authorize_proxy_user",
            headers=_kas_headers(local_api),
            json={"agent_id": agent, "access_type": "personal_access_token", "access_key": token},
        )
        if status == 201:
            assert body["agent"] == {"id": agent, "config_project": {"id": kube["id"]}}, body
            assert body["user"] == {"id": user["id"], "username": name}, body
            answer = (status, body["access_as"])
        else:
            answer = (status, body)
        seen.append(answer)
        assert answer in expected, answer

    _run([lambda n=n: write(n) for n in range(4)] + [read] * 200)

    _no_server_errors(calls)
    assert len({repr(answer) for answer in seen}) >= 2, Counter(repr(answer) for answer in seen)
    assert_invariants(local_api)
    print(
        f"\nuser_access: {calls.total()} requests, {calls.retried} retried, "
        f"{len({repr(a) for a in seen})} distinct answers"
    )
