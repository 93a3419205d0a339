"""Faults on every write path of the agents API and its world: DynamoDB throttling, transaction
conflicts, server errors and timeouts, KMS failures - injected at botocore's before-send, so the
SDK's own retries run (tests/faults.py).

For each write path and each fault:
- a fault that outlasts the SDK's retries answers a retryable 429 (throttled) or 503 (anything
  transient) with ``Retry-After``, in GitLab's error shape - and nothing at all was written:
  every item of both tables is as it was (id counters aside);
- a fault that passes is absorbed by the SDK's retries: the request succeeds;
- afterwards the same request without a fault succeeds, and the agents table's invariants hold.

The agent server's ``last_used_at`` write is the exception by design (SPEC §3, §7.1): its failure
never fails the agent's request, and it writes nothing either."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest

from testkit.client import ApiClient, Response
from testkit.kas import kas_headers
from tests.faults import Fault, Timeout, inject
from tests.tables import scan_all

THROTTLED = {"message": "429 Too Many Requests"}
UNAVAILABLE = {"message": "503 Service Unavailable"}


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    """The SDK retries as configured, without sleeping between attempts (the runs stay fast)."""
    from botocore.retries import standard

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0)


# ---------------------------------------------------------------- the state of both tables
def snapshot(aws) -> dict[str, dict[tuple[str, str], dict]]:
    """Every item of both tables by key, id counters aside (a failed create may use up an id)."""
    import boto3

    client = boto3.client("dynamodb")
    return {
        logical: {
            (item["pk"], item["sk"]): item for item in scan_all(client, aws.refs[logical]) if item["pk"] != "COUNTER"
        }
        for logical in ("AgentsTable", "DirectoryTable")
    }


def assert_invariants(aws) -> None:
    from cluster_agents.ops.invariants import check_items

    report = check_items(snapshot(aws)["AgentsTable"].values())
    assert report.ok, report.violations


def assert_unchanged(before: dict, after: dict) -> None:
    for table in before:
        gone = sorted(set(before[table]) - set(after[table]))
        added = sorted(set(after[table]) - set(before[table]))
        changed = sorted(
            key for key in set(before[table]) & set(after[table]) if before[table][key] != after[table][key]
        )
        assert not (gone or added or changed), f"{table}: removed {gone}, added {added}, changed {changed}"


# ---------------------------------------------------------------- the scene
@pytest.fixture
def scene(world, api):
    """root's project with two agents: ``rich`` (an active and a revoked token, a URL
    configuration, a ci_access authorisation of a sibling project) and ``plain`` (nothing); a
    running job and a user who is not a member yet."""
    project = world.project("infra")
    world.project("app")
    base = f"/projects/{project['id']}/cluster_agents"

    def made(response: Response, status: int = 201) -> Any:
        assert response.status == status, response.text
        return response.json() if response.text else None

    rich = made(api.post(base, json_body={"name": "rich"}))["id"]
    plain = made(api.post(base, json_body={"name": "plain"}))["id"]
    active = made(api.post(f"{base}/{rich}/tokens", json_body={"name": "active"}))
    revoked = made(api.post(f"{base}/{rich}/tokens", json_body={"name": "revoked"}))
    made(api.delete(f"{base}/{rich}/tokens/{revoked['id']}"), 204)
    configuration = made(api.post(f"{base}/{rich}/url_configurations", json_body={"url": "grpc://localhost:8080"}))
    made(
        ApiClient().post(
            "/internal/kubernetes/agent_configuration",
            headers=kas_headers(),
            json_body={"agent_id": rich, "agent_config": {"ci_access": {"projects": [{"id": "root/app"}]}}},
        ),
        204,
    )
    developer = world.user("dev")
    world.member("project", project["id"], developer, 30)
    job = made(api.post("/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": developer.id}))
    newcomer = world.user("newcomer")
    return SimpleNamespace(
        project=project,
        base=base,
        rich=rich,
        plain=plain,
        active=active,
        revoked=revoked,
        configuration=configuration,
        job=job,
        newcomer=newcomer,
        developer=developer,
    )


# ---------------------------------------------------------------- the write paths
@dataclass(frozen=True)
class WritePath:
    name: str
    operation: str  # the DynamoDB operation that writes
    send: Callable[[Any, Any], Response]
    success: int

    @property
    def takes_a_new_id_block(self) -> bool:
        """A fault on the id counter: the container's block of ids is used up, so this request
        reserves the next block (``store/ids.py``); otherwise it takes its id from memory."""
        return self.name.endswith("(id counter)")


WRITE_PATHS = [
    WritePath(
        "agent create", "TransactWriteItems", lambda api, s: api.post(s.base, json_body={"name": "new-agent"}), 201
    ),
    WritePath("agent delete", "TransactWriteItems", lambda api, s: api.delete(f"{s.base}/{s.rich}"), 204),
    WritePath(
        "token create",
        "TransactWriteItems",
        lambda api, s: api.post(f"{s.base}/{s.plain}/tokens", json_body={"name": "t"}),
        201,
    ),
    WritePath(
        "token revoke",
        "TransactWriteItems",
        lambda api, s: api.delete(f"{s.base}/{s.rich}/tokens/{s.active['id']}"),
        204,
    ),
    WritePath(
        "url configuration create",
        "TransactWriteItems",
        lambda api, s: api.post(
            f"{s.base}/{s.plain}/url_configurations", json_body={"url": "grpcs://agent.example.com"}
        ),
        201,
    ),
    WritePath(
        "url configuration delete",
        "TransactWriteItems",
        lambda api, s: api.delete(f"{s.base}/{s.rich}/url_configurations/{s.configuration['id']}"),
        204,
    ),
    WritePath(
        "agent_configuration",
        "TransactWriteItems",
        lambda api, s: ApiClient().post(
            "/internal/kubernetes/agent_configuration",
            headers=kas_headers(),
            json_body={"agent_id": s.rich, "agent_config": {}},
        ),
        204,
    ),
    WritePath(
        "agent_configuration (user_access)",
        "TransactWriteItems",
        lambda api, s: ApiClient().post(
            "/internal/kubernetes/agent_configuration",
            headers=kas_headers(),
            json_body={
                "agent_id": s.rich,
                "agent_config": {
                    "ci_access": {"projects": [{"id": "root/app"}]},
                    "user_access": {"access_as": {"agent": {}}, "projects": [{"id": "root/app"}]},
                },
            },
        ),
        204,
    ),
    # A single write goes as the conditional PutItem/UpdateItem/DeleteItem it is, not as a transaction.
    WritePath(
        "job create",
        "PutItem",
        lambda api, s: api.post("/admin/ci/jobs", json_body={"project_id": s.project["id"], "user_id": s.developer.id}),
        201,
    ),
    WritePath(
        "job finish",
        "UpdateItem",
        lambda api, s: ApiClient(s.job["token"]).put(
            f"/jobs/{s.job['id']}", json_body={"state": "success"}, auth="job-token"
        ),
        200,
    ),
    WritePath(
        "member add",
        "PutItem",
        lambda api, s: api.post(
            f"/projects/{s.project['id']}/members", json_body={"user_id": s.newcomer.id, "access_level": 30}
        ),
        201,
    ),
    WritePath(
        "agent create (id counter)", "UpdateItem", lambda api, s: api.post(s.base, json_body={"name": "new-agent"}), 201
    ),
    WritePath(
        "token create (id counter)",
        "UpdateItem",
        lambda api, s: api.post(f"{s.base}/{s.plain}/tokens", json_body={"name": "t"}),
        201,
    ),
]


def _conflict(operation: str) -> Fault:
    return Fault(
        operation,
        "TransactionCanceledException",
        times=10,
        extra={"CancellationReasons": [{"Code": "TransactionConflict"}] + [{"Code": "None"}] * 2},
    )


# (name, make the fault, the status when it outlasts the SDK's retries - None: it passes)
FAULTS: list[tuple[str, Callable[[str], Any], int | None]] = [
    ("throttled", lambda op: Fault(op, "ProvisionedThroughputExceededException", times=10), 429),
    ("server error", lambda op: Fault(op, "InternalServerError", times=10, status=500), 503),
    ("timeout", lambda op: Timeout(op, times=10), 503),
    ("throttled once", lambda op: Fault(op, "ThrottlingException", times=1), None),
    ("timeout once", lambda op: Timeout(op, times=2), None),
]
TRANSACTION_FAULTS = [("conflict", _conflict, 503)]
# A single write meeting a transaction in progress on its item.
SINGLE_WRITE_FAULTS = [("conflict", lambda op: Fault(op, "TransactionConflictException", times=10), 503)]

CASES = [
    pytest.param(path, fault, status, id=f"{path.name}: {name}")
    for path in WRITE_PATHS
    for name, fault, status in FAULTS
    + (TRANSACTION_FAULTS if path.operation == "TransactWriteItems" else SINGLE_WRITE_FAULTS)
]


@pytest.mark.parametrize(("path", "make_fault", "status"), CASES)
def test_a_fault_on_a_write_path(aws, api, scene, path: WritePath, make_fault, status: int | None):
    from cluster_agents.store import ids

    before = snapshot(aws)
    if path.takes_a_new_id_block:
        ids.id_blocks.cache_clear()
    with inject("dynamodb", make_fault(path.operation)) as fault:
        response = path.send(api, scene)
    assert fault.seen >= 1, "the fault never hit the write path"
    if status is None:  # absorbed by the SDK's retries
        assert response.status == path.success, response.text
        assert_invariants(aws)
        return
    assert response.status == status, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == (THROTTLED if status == 429 else UNAVAILABLE)
    assert_unchanged(before, snapshot(aws))
    assert_invariants(aws)
    # The client's retry, without the fault, succeeds.
    assert path.send(api, scene).status == path.success
    assert_invariants(aws)


def _configure_rich(scene, config: dict) -> Response:
    return ApiClient().post(
        "/internal/kubernetes/agent_configuration",
        headers=kas_headers(),
        json_body={"agent_id": scene.rich, "agent_config": config},
    )


def test_a_passing_conflict_on_agent_configuration_is_retried(aws, api, scene):
    """Another agent writing the same CIACCESS# item at that moment cancels the transaction with a
    TransactionConflict: the agent is read again and the configuration written, without a 503."""
    from cluster_agents.store.ci_access import ci_access

    conflict = {"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}, {"Code": "None"}]}
    with inject(
        "dynamodb", Fault("TransactWriteItems", "TransactionCanceledException", times=2, extra=conflict)
    ) as fault:
        response = _configure_rich(scene, {"ci_access": {"projects": [{"id": "root/app", "default_namespace": "x"}]}})
    assert fault.seen == 2
    assert response.status == 204, response.text
    stored = ci_access().read_agent(scene.rich).current.values()
    assert [json.loads(configuration) for configuration in stored] == [{"default_namespace": "x"}]
    assert_invariants(aws)


@pytest.mark.parametrize("times", [1, 4])
def test_a_passing_conflict_on_the_receptive_generation_is_retried(aws, api, scene, times):
    """Every URL configuration write raises the receptive index's one generation item, which
    another agent's write may hold at that moment: the same transaction is sent again, up to
    four times, and answers as if nothing had happened."""
    conflict = {"CancellationReasons": [{"Code": "None"}] * 4 + [{"Code": "TransactionConflict"}]}
    with inject(
        "dynamodb", Fault("TransactWriteItems", "TransactionCanceledException", times=times, extra=conflict)
    ) as fault:
        response = api.post(f"{scene.base}/{scene.plain}/url_configurations", json_body={"url": "grpc://a.example"})
    assert fault.seen == times
    assert response.status == 201, response.text
    assert_invariants(aws)


def test_an_item_past_400_kb_named_by_its_cancellation_reason_is_a_400_for_that_source(aws, api, scene):
    """DynamoDB names the action whose item would pass 400 KB in the transaction's cancellation
    reasons: the answer names its project, and nothing is written."""
    before = snapshot(aws)
    too_large = {"Code": "ValidationError", "Message": "Item size to update has exceeded the maximum allowed size"}
    reasons = [{"Code": "None"}] * 3 + [too_large, {"Code": "None"}]  # the version, infra (2), app (2)
    with inject(
        "dynamodb",
        Fault("TransactWriteItems", "TransactionCanceledException", times=1, extra={"CancellationReasons": reasons}),
    ):
        response = _configure_rich(
            scene, {"ci_access": {"projects": [{"id": "root/infra"}, {"id": "root/app", "default_namespace": "x"}]}}
        )
    assert (response.status, response.json()) == (
        400,
        {
            "message": "400 Bad request - ci_access: project root/app is authorized by more agents than one "
            "project or group can hold"
        },
    )
    assert_unchanged(before, snapshot(aws))


def test_a_failed_agent_delete_keeps_the_agents_ci_access(aws, api, scene, world):
    """Regression: the delete used to remove the agent's ci_access authorisations (and revoked
    tokens) before the transaction that removes the agent; when that transaction failed, the
    client got a 429 ("nothing was written") and the agent lived on without its authorisations."""
    app = api.get("/projects/root%2Fapp").json()
    job = api.post("/admin/ci/jobs", json_body={"project_id": app["id"], "user_id": scene.developer.id}).json()

    def allowed() -> list[int]:
        response = ApiClient(job["token"]).get("/job/allowed_agents", auth="job-token")
        assert response.status == 200, response.text
        return [agent["id"] for agent in response.json()["allowed_agents"]]

    assert allowed() == [scene.rich]
    with inject("dynamodb", Fault("TransactWriteItems", "ThrottlingException", times=10)):
        assert api.delete(f"{scene.base}/{scene.rich}").status == 429
    assert allowed() == [scene.rich]
    assert api.delete(f"{scene.base}/{scene.rich}").status == 204
    assert allowed() == []


@pytest.fixture
def large(world, api, scene):
    """An agent with more than one transaction can delete: 60 ci_access authorisations (120 items)
    and three revoked tokens."""
    for number in range(60):
        world.project(f"svc{number}")
    agent = api.post(scene.base, json_body={"name": "large"}).json()["id"]
    for number in range(3):
        token = api.post(f"{scene.base}/{agent}/tokens", json_body={"name": f"t{number}"}).json()
        assert api.delete(f"{scene.base}/{agent}/tokens/{token['id']}").status == 204
    response = ApiClient().post(
        "/internal/kubernetes/agent_configuration",
        headers=kas_headers(),
        json_body={
            "agent_id": agent,
            "agent_config": {"ci_access": {"projects": [{"id": f"root/svc{n}"} for n in range(60)]}},
        },
    )
    assert response.status == 204
    return agent


@pytest.mark.parametrize(
    ("operation", "make_fault", "status"),
    [
        pytest.param(
            "BatchWriteItem", lambda op: Fault(op, "ThrottlingException", times=10), 429, id="ahead: throttled"
        ),
        pytest.param("BatchWriteItem", lambda op: Timeout(op, times=10), 503, id="ahead: timeout"),
        pytest.param("BatchWriteItem", lambda op: Fault(op, "ThrottlingException", times=1), None, id="ahead: once"),
        pytest.param(
            "TransactWriteItems",
            lambda op: Fault(op, "ThrottlingException", times=10),
            429,
            id="transaction: throttled",
        ),
        pytest.param("TransactWriteItems", _conflict, 503, id="transaction: conflict"),
    ],
)
def test_a_fault_while_deleting_a_large_agent(aws, api, scene, large, operation, make_fault, status):
    """What does not fit in the deleting transaction is deleted ahead of it: a fault there, or in
    the transaction, leaves the agent whole (its tokens, configuration and name) and consistent;
    the retry deletes everything."""
    before = snapshot(aws)["AgentsTable"]
    with inject("dynamodb", make_fault(operation)) as fault:
        response = api.delete(f"{scene.base}/{large}")
    assert fault.seen >= 1
    if status is not None:
        assert (response.status, response.headers["Retry-After"]) == (status, "1"), response.text
        assert api.get(f"{scene.base}/{large}").status == 200
        after = snapshot(aws)["AgentsTable"]
        lost = {key for key in set(before) - set(after)}
        assert all(key[1].startswith(("RT#", "CI#")) or key[0].startswith("CIACCESS#") for key in lost), lost
        assert_invariants(aws)
        response = api.delete(f"{scene.base}/{large}")
    assert response.status == 204, response.text
    assert_invariants(aws)
    left = [
        key
        for key, item in snapshot(aws)["AgentsTable"].items()
        if key[0] == f"AGENT#{large}"
        or (key[0].startswith("CIACCESS#") and (key[1] == f"AGENT#{large:012d}" or f"a{large}" in item))
    ]
    assert left == []


def test_a_failed_large_delete_does_not_let_a_replacement_miss_what_it_removed(aws, api, scene, large):
    """Regression: the authorisations removed ahead of the deleting transaction were removed without
    moving the agent's version; when that transaction then failed, a ci_access replacement computed
    from a read made before the removal still took them as stored, wrote only its own change, and
    the agent lived on without them. Each removal ahead now moves the version on: the replacement's
    condition fails, it reads again and writes back what was removed."""
    from cluster_agents.store.ci_access import ci_access

    store = ci_access()
    stale = store.read_agent(large)  # a replacement's read, before the deletion starts
    assert len(stale.current) == 60
    with inject("dynamodb", Fault("TransactWriteItems", "ThrottlingException", times=10, after=1)) as fault:
        response = api.delete(f"{scene.base}/{large}")  # the removal ahead passes, the deletion fails
    assert fault.passed == 1 and fault.seen >= 1
    assert response.status == 429, response.text
    moved = store.read_agent(large)
    assert moved is not None and len(moved.current) < 60  # what went ahead of the failed transaction
    assert (moved.version or 0) == (stale.version or 0) + 1  # ... moved the version on

    wanted = dict(stale.current)
    new_project = api.get("/projects/root%2Fsvc0").json()["id"]
    wanted.pop(("project", new_project))
    store.replace_for_agent(stale.agent, wanted, stale)  # one change computed from the stale read
    assert set(store.read_agent(large).current) == set(wanted)  # ... and nothing else missing
    assert_invariants(aws)


# ---------------------------------------------------------------- KMS
KMS_FAULTS = [
    pytest.param(lambda op: Fault(op, "KMSInternalException", times=10, status=500), 503, id="kms internal error"),
    pytest.param(lambda op: Fault(op, "ThrottlingException", times=10), 429, id="kms throttled"),
    pytest.param(lambda op: Fault(op, "DependencyTimeoutException", times=10, status=503), 503, id="kms dependency"),
    pytest.param(lambda op: Fault(op, "KeyUnavailableException", times=10, status=500), 503, id="kms key unavailable"),
    pytest.param(lambda op: Timeout(op, times=10), 503, id="kms timeout"),
]


@pytest.mark.parametrize(("make_fault", "status"), KMS_FAULTS)
def test_kms_data_key_failure_on_url_configuration_create(aws, api, scene, make_fault, status):
    from cluster_agents import crypto

    crypto.reset_keys()  # a cold container: the first private key to seal asks KMS for a data key
    api.get("/user")  # (and the digest key is derived again, without a fault)
    before = snapshot(aws)
    send = next(p for p in WRITE_PATHS if p.name == "url configuration create").send
    with inject("kms", make_fault("GenerateDataKey")) as fault:
        response = send(api, scene)
    assert fault.seen >= 1
    assert (response.status, response.headers["Retry-After"]) == (status, "1"), response.text
    assert_unchanged(before, snapshot(aws))
    assert send(api, scene).status == 201
    assert_invariants(aws)


@pytest.mark.parametrize(("make_fault", "status"), KMS_FAULTS)
def test_kms_digest_key_failure_at_cold_start_on_token_create(aws, api, scene, make_fault, status):
    from cluster_agents import crypto

    crypto.reset_keys()
    before = snapshot(aws)
    send = next(p for p in WRITE_PATHS if p.name == "token create").send
    with inject("kms", make_fault("GenerateMac")):
        response = send(api, scene)
    assert (response.status, response.headers["Retry-After"]) == (status, "1"), response.text
    assert_unchanged(before, snapshot(aws))
    assert send(api, scene).status == 201
    assert_invariants(aws)


def test_kms_data_key_failure_once_is_absorbed(aws, api, scene):
    from cluster_agents import crypto

    crypto.reset_keys()
    api.get("/user")
    send = next(p for p in WRITE_PATHS if p.name == "url configuration create").send
    with inject("kms", Fault("GenerateDataKey", "KMSInternalException", times=1, status=500)):
        assert send(api, scene).status == 201


# ---------------------------------------------------------------- the agent server's last_used_at
LAST_USED_FAULTS = [pytest.param(make, status is not None, id=name) for name, make, status in FAULTS]


@pytest.mark.parametrize(("make_fault", "persistent"), LAST_USED_FAULTS)
def test_a_failed_last_used_write_never_fails_the_agent(aws, api, scene, make_fault, persistent):
    token_path = f"{scene.base}/{scene.rich}/tokens/{scene.active['id']}"
    before = snapshot(aws)
    with inject("dynamodb", make_fault("UpdateItem")) as fault:
        response = ApiClient().get("/internal/kubernetes/agent_info", headers=kas_headers(scene.active["token"]))
    assert fault.seen >= 1
    assert response.status == 200, response.text
    if persistent:  # it outlasted the retries: nothing written, and the next use records it
        assert_unchanged(before, snapshot(aws))
        assert api.get(token_path).json()["last_used_at"] is None
        assert (
            ApiClient().get("/internal/kubernetes/agent_info", headers=kas_headers(scene.active["token"])).status == 200
        )
    assert api.get(token_path).json()["last_used_at"] is not None
    assert_invariants(aws)


@pytest.mark.parametrize(("make_fault", "persistent"), LAST_USED_FAULTS)
def test_a_failed_personal_access_token_use_write_never_fails_authorize_proxy_user(
    aws, api, world, scene, make_fault, persistent
):
    proxied = world.user("proxied", scopes=["k8s_proxy"])
    body = {"agent_id": scene.rich, "access_type": "personal_access_token", "access_key": proxied.token}
    refused = {"message": "`user_access` keyword is not found in agent config file."}
    before = snapshot(aws)
    with inject("dynamodb", make_fault("UpdateItem")) as fault:
        response = ApiClient().post("/internal/kubernetes/authorize_proxy_user", headers=kas_headers(), json_body=body)
    assert fault.seen >= 1
    assert (response.status, response.json()) == (403, refused)
    if persistent:  # it outlasted the retries: nothing written
        assert_unchanged(before, snapshot(aws))
    assert_invariants(aws)
