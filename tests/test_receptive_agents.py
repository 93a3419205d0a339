"""The agent server's list of receptive agents (SPEC §7.3): the KAS JWT alone, every URL
configuration in agent id order with its private material, the instance setting, the
receptive-agents index read again only when its generation moved (never a scan), no KMS call when
warm, and nothing of it in the logs."""

from __future__ import annotations

import base64
import importlib
import json
import logging
from pathlib import Path

import pytest

from testkit.client import ApiClient
from tests.test_kas import KAS_INVALID, create_agent, kas_headers, kas_jwt
from tests.test_observability import output  # noqa: F401 (a fixture)
from tests.test_url_configurations import Pki, ruby_encode64

PATH = "/internal/kubernetes/receptive_agents"
NOT_FOUND = {"message": "404 Not Found"}
EVENTS = Path(__file__).resolve().parent.parent / "events" / "kas_receptive"
KEYS = ["id", "url", "ca_cert", "tls_host", "jwt", "mtls"]


def receptive(headers: dict[str, str] | None = None, **kwargs):
    return ApiClient().get(PATH, headers=kas_headers() if headers is None else headers, **kwargs)


def configure_url(api: ApiClient, project_id: int, agent_id: int, body: dict) -> dict:
    made = api.post(f"/projects/{project_id}/cluster_agents/{agent_id}/url_configurations", json_body=body)
    assert made.status == 201, made.text
    return made.json()


def _public_half(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture
def estate(world, api):
    """Agents in two projects, created so that ids and creation order disagree with project order:
    a JWT one with a CA and TLS host, an mTLS one, and an agent that is not receptive."""
    first, second = world.project("first"), world.project("second")
    plain = create_agent(api, first["id"], "plain")
    mtls_agent = create_agent(api, second["id"], "mtls")
    jwt_agent = create_agent(api, first["id"], "jwt")
    pki = Pki(rsa_client=True)
    mtls = configure_url(
        api,
        second["id"],
        mtls_agent["id"],
        {
            "url": "grpcs://mtls.example.com:443",
            "client_cert": ruby_encode64(pki.client_cert),
            "client_key": ruby_encode64(pki.client_key),
            "ca_cert": ruby_encode64(pki.ca_cert),
        },
    )
    jwt = configure_url(
        api,
        first["id"],
        jwt_agent["id"],
        {
            "url": "grpcs://agent.example.com:443",
            "ca_cert": base64.b64encode(pki.ca_cert).decode(),
            "tls_host": "agent.example.com",
        },
    )
    return {
        "first": first,
        "second": second,
        "plain": plain,
        "mtls_agent": mtls_agent,
        "jwt_agent": jwt_agent,
        "pki": pki,
        "mtls": mtls,
        "jwt": jwt,
    }


def test_every_receptive_agent_in_agent_id_order_with_what_kas_needs(estate):
    response = receptive()
    assert response.status == 200, response.text
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert list(body) == ["agents"]
    mtls_entry, jwt_entry = body["agents"]
    assert [list(entry) for entry in body["agents"]] == [KEYS, KEYS]
    pki = estate["pki"]
    assert mtls_entry == {
        "id": estate["mtls_agent"]["id"],
        "url": "grpcs://mtls.example.com:443",
        "ca_cert": pki.ca_cert.decode(),
        "tls_host": None,
        "jwt": None,
        "mtls": {"client_key": pki.client_key.decode(), "client_cert": pki.client_cert.decode()},
    }
    assert list(mtls_entry["mtls"]) == ["client_key", "client_cert"]
    assert (jwt_entry["id"], jwt_entry["url"], jwt_entry["ca_cert"], jwt_entry["tls_host"], jwt_entry["mtls"]) == (
        estate["jwt_agent"]["id"],
        "grpcs://agent.example.com:443",
        pki.ca_cert.decode(),
        "agent.example.com",
        None,
    )
    assert list(jwt_entry["jwt"]) == ["private_key"]
    private_key = jwt_entry["jwt"]["private_key"]
    assert len(private_key) == 44 and "\n" not in private_key
    seed = base64.b64decode(private_key, validate=True)
    assert _public_half(seed) == base64.b64decode(estate["jwt"]["public_key"])  # §4's public half
    assert "-----BEGIN CERTIFICATE-----\n" in response.text.encode().decode("unicode_escape")


def test_none_is_an_empty_list_and_parameters_and_pagination_are_ignored(aws):
    response = receptive(params={"page": "2", "per_page": "x", "id": "1"})
    assert (response.status, response.json()) == (200, {"agents": []})
    assert response.headers.get("X-Total") is None and response.headers.get("Link") is None


def test_only_the_kas_jwt_counts(estate):
    for headers in (
        {},
        {"Gitlab-Kas-Api-Request": kas_jwt(secret=b"x" * 32)},
        {"Gitlab-Kas-Api-Request": "garbage"},
        {"Gitlab-Kas-Api-Request": kas_jwt(aud="other")},
    ):
        response = receptive(headers)
        assert (response.status, response.json()) == (401, KAS_INVALID), headers
    # an agent token or a PAT is neither needed nor a substitute
    assert receptive(kas_headers("glagent-whatever")).status == 200
    response = ApiClient("glpat-root-token-for-tests-000").get(PATH)
    assert (response.status, response.json()) == (401, KAS_INVALID)


def test_deleting_a_configuration_or_an_agent_takes_it_off_the_list(estate, api):
    first, second = estate["first"]["id"], estate["second"]["id"]
    assert [entry["id"] for entry in receptive().json()["agents"]] == [
        estate["mtls_agent"]["id"],
        estate["jwt_agent"]["id"],
    ]
    base = f"/projects/{second}/cluster_agents/{estate['mtls_agent']['id']}/url_configurations"
    assert api.delete(f"{base}/{estate['mtls']['id']}").status == 204
    assert [entry["id"] for entry in receptive().json()["agents"]] == [estate["jwt_agent"]["id"]]
    assert api.delete(f"/projects/{first}/cluster_agents/{estate['jwt_agent']['id']}").status == 204
    assert receptive().json() == {"agents": []}
    again = configure_url(api, second, estate["mtls_agent"]["id"], {"url": "grpc://localhost"})
    (entry,) = receptive().json()["agents"]
    assert (entry["id"], entry["url"], entry["mtls"]) == (estate["mtls_agent"]["id"], "grpc://localhost", None)
    assert _public_half(base64.b64decode(entry["jwt"]["private_key"])) == base64.b64decode(again["public_key"])


def test_the_instance_setting_off_is_404_after_the_jwt_and_keeps_the_configurations(estate, monkeypatch):
    from testkit.container import reset_caches

    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "false")
    reset_caches()
    response = receptive()
    assert (response.status, response.json()) == (404, NOT_FOUND)
    response = receptive({"Gitlab-Kas-Api-Request": "garbage"})
    assert (response.status, response.json()) == (401, KAS_INVALID)
    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "true")
    reset_caches()
    assert len(receptive().json()["agents"]) == 2


def test_a_warm_list_reads_the_generation_alone_and_no_kms_call(estate, api, world):
    """Agents and projects that are not receptive are never read; while nothing changed, a warm
    container reads the index's generation alone (one small item, eventually consistent)."""
    from testkit.counter import RoundTrips

    for number in range(5):
        project = world.project(f"bystander{number}")
        for name in ("a", "b"):
            create_agent(api, project["id"], name)
    receptive()  # cold: reads the index and decrypts the data key once
    with RoundTrips().measure() as warm:
        response = receptive()
    assert response.status == 200 and len(response.json()["agents"]) == 2
    assert [(call.operation, call.table) for call in warm.calls] == [("GetItem", "Agents")]
    assert warm.kms == 0
    assert warm.items_read == 1
    assert warm.read_units == 0.5


def test_a_change_moves_the_generation_and_the_next_list_reads_the_index_again(estate, api, world):
    """Every write of an entry raises the generation in the same transaction: the list after it
    reads the index again (strongly consistent) and shows the change at once."""
    from testkit.counter import RoundTrips

    receptive()
    project = world.project("later")
    agent = create_agent(api, project["id"], "later")
    configure_url(api, project["id"], agent["id"], {"url": "grpc://later.example.com"})
    with RoundTrips().measure() as after_change:
        listed = [entry["id"] for entry in receptive().json()["agents"]]
    assert listed == sorted([estate["mtls_agent"]["id"], estate["jwt_agent"]["id"], agent["id"]])
    assert [(call.operation, call.table) for call in after_change.calls] == [
        ("GetItem", "Agents"),
        ("Query", "Agents"),
    ]
    assert after_change.items_read == 1 + 3
    with RoundTrips().measure() as warm:
        assert [entry["id"] for entry in receptive().json()["agents"]] == listed
    assert [call.operation for call in warm.calls] == ["GetItem"]


def test_an_entry_written_without_the_generation_is_seen_within_the_maximum_age(estate, aws, monkeypatch):
    """The copy is what a warm list answers: an entry put by hand (as an older version would,
    without raising the generation) shows up only once the copy is older than MAX_AGE_SECONDS."""
    import time

    import boto3
    from cluster_agents.store import receptive_index

    ddb, table = boto3.client("dynamodb"), aws.refs["AgentsTable"]
    before = receptive().json()["agents"]
    stored = ddb.get_item(
        TableName=table, Key={"pk": {"S": "RECEPTIVE"}, "sk": {"S": f"AGENT#{estate['jwt_agent']['id']:012d}"}}
    )["Item"]
    ddb.put_item(TableName=table, Item={**stored, "url": {"S": "grpc://changed.example.com"}})
    assert receptive().json()["agents"] == before
    later = time.monotonic() + receptive_index.MAX_AGE_SECONDS + 1
    monkeypatch.setattr(receptive_index.time, "monotonic", lambda: later)
    urls = {entry["id"]: entry["url"] for entry in receptive().json()["agents"]}
    assert urls[estate["jwt_agent"]["id"]] == "grpc://changed.example.com"


def test_every_writer_of_the_index_raises_its_generation(estate, api, aws):
    """Create, delete, the agent's cascade: each moves the generation on by one."""
    import boto3

    ddb, table = boto3.client("dynamodb"), aws.refs["AgentsTable"]

    def generation() -> int:
        key = {"pk": {"S": "RECEPTIVE#GENERATION"}, "sk": {"S": "GENERATION"}}
        return int(ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["generation"]["N"])

    assert generation() == 2  # the estate's two configurations
    second, first = estate["second"]["id"], estate["first"]["id"]
    base = f"/projects/{second}/cluster_agents/{estate['mtls_agent']['id']}/url_configurations"
    assert api.delete(f"{base}/{estate['mtls']['id']}").status == 204
    assert generation() == 3
    assert api.delete(f"/projects/{first}/cluster_agents/{estate['plain']['id']}").status == 204
    assert generation() == 3  # not receptive: the index is untouched
    assert api.delete(f"/projects/{first}/cluster_agents/{estate['jwt_agent']['id']}").status == 204
    assert generation() == 4
    assert receptive().json() == {"agents": []}


def test_the_data_key_is_decrypted_once_per_container(estate):
    from testkit.container import reset_caches
    from testkit.counter import RoundTrips

    reset_caches()
    with RoundTrips(capacity=False).measure() as calls:
        for _ in range(3):
            assert len(receptive().json()["agents"]) == 2
    assert calls.operations()["kms:Decrypt"] == 1  # both configurations were sealed by one container's data key


def test_a_page_past_one_megabyte_is_read_on(estate, api, world, monkeypatch):
    """DynamoDB answers a Query in pages of at most 1 MB: the list follows LastEvaluatedKey."""
    from cluster_agents.store import dynamo

    project = world.project("many")
    for number in range(4):
        agent = create_agent(api, project["id"], f"r{number}")
        configure_url(api, project["id"], agent["id"], {"url": f"grpc://r{number}.example.com"})
    real = dynamo.query
    pages: list[int] = []

    def small_pages(table, pk, **kwargs):
        items, last = real(table, pk, **{**kwargs, "limit": 2})
        pages.append(len(items))
        return items, last

    monkeypatch.setattr(dynamo, "query", small_pages)
    ids = [entry["id"] for entry in receptive().json()["agents"]]
    assert len(ids) == 6 and ids == sorted(ids) and len(pages) >= 3


def test_private_material_never_reaches_the_logs(estate, output, caplog):  # noqa: F811
    caplog.set_level(logging.DEBUG)
    response = receptive()
    assert response.status == 200
    secrets = [estate["pki"].client_key.decode().splitlines()[1]]
    secrets += [entry["jwt"]["private_key"] for entry in response.json()["agents"] if entry["jwt"]]
    printed = output().text + "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert '"route":"/api/v4/internal/kubernetes/receptive_agents"' in printed.replace(" ", "")
    assert [secret for secret in secrets if secret in printed] == []


def test_sample_event(estate):
    from devtools.apigw import LambdaContext

    event = json.loads((EVENTS / "GetReceptiveAgents.json").read_text())
    module = importlib.import_module("kas_receptive_app")
    assert module.lambda_handler(event, LambdaContext("KasReceptiveFunction"))["statusCode"] == 401  # stale JWT
    event["headers"]["Gitlab-Kas-Api-Request"] = kas_jwt()
    event["multiValueHeaders"]["Gitlab-Kas-Api-Request"] = [event["headers"]["Gitlab-Kas-Api-Request"]]
    result = module.lambda_handler(event, LambdaContext("KasReceptiveFunction"))
    assert result["statusCode"] == 200, result
    assert len(json.loads(result["body"])["agents"]) == 2


def _bench_world(root_token, aws, monkeypatch):
    """make bench's world, probe and client over this test's tables, as a fresh container."""
    from types import SimpleNamespace

    import boto3

    from bench import scaling
    from bench.scenarios import World
    from bench.stack import KAS_SECRET as BENCH_KAS_SECRET
    from testkit.client import InProcess
    from testkit.container import reset_caches

    monkeypatch.setenv("KAS_SECRET", BENCH_KAS_SECRET)  # the bench world signs with its own
    reset_caches()
    ddb = boto3.client("dynamodb")
    container = SimpleNamespace(agents_table=aws.refs["AgentsTable"], ddb=lambda: ddb)
    client = InProcess()
    return World(client, "scale", container=container, root_token=root_token), scaling.Probe(client), ddb


def test_items_read_do_not_grow_with_agents_that_are_not_receptive(root_token, aws, monkeypatch):
    """The scaling pair of make bench: one receptive agent listed with 1, then 500, agents stored
    that are not receptive; items read and round trips stay within 1.3x (in fact equal)."""
    from bench import scaling

    world, probe, ddb = _bench_world(root_token, aws, monkeypatch)
    (result,) = scaling.receptive_at_scale(world, probe, ddb, scaling.Sizes(non_receptive=500))
    assert result.error is None, result.error
    assert result.items_ratio <= scaling.RATIO_LIMIT and result.trips_ratio <= scaling.RATIO_LIMIT
    assert result.small.items_read == result.large.items_read == 1
    assert result.large.dynamodb == 1 and result.large.kms == 0
    assert result.met


def test_a_warm_list_costs_the_same_with_many_receptive_agents(root_token, aws, monkeypatch):
    """make bench's pair with fewer agents: 1 then 40 receptive agents (the others cloned raw, the
    generation raised as their transactions would have): a warm list reads the generation alone in
    both, and the first list after the change read all 40 entries."""
    from bench import scaling

    world, probe, ddb = _bench_world(root_token, aws, monkeypatch)
    (result,) = scaling.many_receptive_at_scale(world, probe, ddb, scaling.Sizes(receptive=40))
    assert result.error is None, result.error
    assert result.met
    assert result.small.capacity.total == result.large.capacity.total == 0.5
    assert result.large.dynamodb == 1 and result.large.kms == 0
    assert "2 → 41 items" in result.check  # the generation and every entry, once


def test_configurations_written_before_the_index_are_backfilled(estate, api, aws):
    """A table from before the index: ``make check`` names what is missing, the operator's backfill
    puts it (once; never for a configuration deleted meanwhile), and the agent server lists it."""
    import boto3
    from cluster_agents.ops import backfill_receptive_index
    from cluster_agents.ops.invariants import check_items
    from cluster_agents.store.url_configurations import url_configurations

    from tests.tables import scan_all

    ddb, table = boto3.client("dynamodb"), aws.refs["AgentsTable"]
    for agent in (estate["mtls_agent"], estate["jwt_agent"]):
        ddb.delete_item(TableName=table, Key={"pk": {"S": "RECEPTIVE"}, "sk": {"S": f"AGENT#{agent['id']:012d}"}})
    assert receptive().json() == {"agents": []}
    assert check_items(scan_all(ddb, table)).violations == [
        f"AGENT#{agent['id']} U: URL configuration missing from the receptive-agents index"
        for agent in sorted((estate["mtls_agent"], estate["jwt_agent"]), key=lambda agent: agent["id"])
    ]
    stale = list(backfill_receptive_index.configurations(table))
    assert backfill_receptive_index.main(["--table", table]) == 0
    assert backfill_receptive_index.backfill(table) == (2, 0)  # idempotent
    report = check_items(scan_all(ddb, table))
    assert report.ok, report.violations
    assert [entry["id"] for entry in receptive().json()["agents"]] == [
        estate["mtls_agent"]["id"],
        estate["jwt_agent"]["id"],
    ]

    base = f"/projects/{estate['second']['id']}/cluster_agents/{estate['mtls_agent']['id']}/url_configurations"
    assert api.delete(f"{base}/{estate['mtls']['id']}").status == 204
    gone = next(item for item in stale if item["agent_id"] == estate["mtls_agent"]["id"])
    assert url_configurations().index(gone) is False  # its configuration was deleted: no entry
    report = check_items(scan_all(ddb, table))
    assert report.ok, report.violations
