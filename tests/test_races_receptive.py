"""Deleting agents while the agent server lists receptive agents, through the local API (several
worker processes over one moto server, as in tests/test_races.py): every entry listed is whole and
consistent - its agent's URL, its CA certificate, a private key whose public half is the one the
configuration showed - never half of a deleted agent; once a delete has answered, its agent is
never listed again; and the table's invariants (the receptive-agents index included) hold."""

from __future__ import annotations

import base64
import functools
import threading
import time
from typing import Any

import pytest

from tests.test_kas import kas_jwt
from tests.test_races import Calls, _agent, _no_server_errors, _run, _session, assert_invariants
from tests.test_races import project as project  # the fixture

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local_api")]

KEYS = ["id", "url", "ca_cert", "tls_host", "jwt", "mtls"]


@functools.cache
def _ca_pem() -> bytes:
    from tests.test_url_configurations import Pki

    return Pki().ca_cert


def _public_half(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_deleting_agents_while_the_agent_server_lists_them(local_api, project):
    base = f"{local_api.base_url}/projects/{project['id']}/cluster_agents"
    ca = _ca_pem()
    expected: dict[int, dict[str, Any]] = {}  # agent id -> its URL and public key
    for number in range(16):
        agent = _agent(local_api, project, f"listed-{number}")
        url = f"grpcs://agent-{agent}.example.com:443"
        made = _session().post(
            f"{base}/{agent}/url_configurations",
            timeout=60,
            json={"url": url, "ca_cert": base64.b64encode(ca).decode(), "tls_host": f"agent-{agent}.example.com"},
        )
        assert made.status_code == 201, made.text
        expected[agent] = {"url": url, "public_key": base64.b64decode(made.json()["public_key"])}
    doomed = sorted(expected)[::2]  # half are deleted, half stay
    calls = Calls()
    deleted_at: dict[int, float] = {}  # agent id -> when its delete answered
    lock = threading.Lock()
    listings: list[tuple[float, float, list[dict]]] = []  # (sent, answered, entries)
    problems: list[str] = []

    def delete(agent: int) -> None:
        status, body = calls.send("delete", "DELETE", f"{base}/{agent}")
        assert status == 204, (status, body)
        with lock:
            deleted_at[agent] = time.monotonic()

    def listing() -> None:
        sent = time.monotonic()
        status, body = calls.send(
            "list",
            "GET",
            f"{local_api.base_url}/internal/kubernetes/receptive_agents",
            headers={"Gitlab-Kas-Api-Request": kas_jwt()},
        )
        assert status == 200, (status, body)
        with lock:
            listings.append((sent, time.monotonic(), body["agents"]))

    _run([lambda a=agent: delete(a) for agent in doomed] + [listing] * 60)

    _no_server_errors(calls)
    for sent, _, entries in listings:
        ids = [entry["id"] for entry in entries]
        if ids != sorted(ids) or len(set(ids)) != len(ids):
            problems.append(f"not in agent id order, or listed twice: {ids}")
        for entry in entries:
            if list(entry) != KEYS:
                problems.append(f"entry with keys {list(entry)}")
                continue
            if entry["id"] not in expected:
                continue  # another test's agent on the shared server
            want = expected[entry["id"]]
            whole = (
                entry["url"] == want["url"]
                and entry["ca_cert"] == ca.decode()
                and entry["tls_host"] == f"agent-{entry['id']}.example.com"
                and entry["mtls"] is None
                and isinstance(entry["jwt"], dict)
                and _public_half(base64.b64decode(entry["jwt"]["private_key"])) == want["public_key"]
            )
            if not whole:
                problems.append(f"agent {entry['id']}: listed incomplete or inconsistent: {entry}")
            answered = deleted_at.get(entry["id"])
            if answered is not None and answered < sent:
                problems.append(f"agent {entry['id']} listed by a request sent after its delete answered")
    assert problems == [], problems[:5]

    status, body = calls.send(
        "list",
        "GET",
        f"{local_api.base_url}/internal/kubernetes/receptive_agents",
        headers={"Gitlab-Kas-Api-Request": kas_jwt()},
    )
    assert status == 200
    listed = {entry["id"] for entry in body["agents"]}
    assert listed & set(doomed) == set()
    assert set(expected) - set(doomed) <= listed
    assert_invariants(local_api)
    print(
        f"\nreceptive list during deletes: {calls.total()} requests, {calls.retried} retried, "
        f"{sum(len(entries) for _, _, entries in listings)} entries checked"
    )
