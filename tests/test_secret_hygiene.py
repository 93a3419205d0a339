"""No secret in plain text, anywhere: not at rest, not in a log line, not in any response but the one
that creates it (SPEC §1.1, §3, §4).

One run creates every kind of secret the service handles - personal access tokens, job tokens,
agent tokens, an mTLS client key, a generated Ed25519 key pair - and uses them (the agent server's
JWT and agent info, a job's allowed agents and its end, a revocation, failures that carry
credentials, an unexpected error). Then:

- every item of both tables is searched for every secret: as text, as bytes, in base64 (at any of
  the three alignments, so a secret inside a larger encoded blob is found too), base64url and hex,
  and the client key's PEM body line by line;
- so is every line the functions logged (Powertools writes JSON lines to stdout; at DEBUG level);
- every resource is read again (single and list routes, users, projects, members, allowed agents,
  agent info), and no answer carries a secret - only the creating response did, once.

The keys that protect the secrets (the HMAC digest key derived from KMS, the plaintext of the KMS
data key, the agent server's shared secret) count as secrets too."""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterable
from typing import Any

import jwt
import pytest

from testkit.client import ApiClient, Response
from tests.conftest import KAS_SECRET, ROOT_TOKEN
from tests.faults import Fault, inject
from tests.tables import scan_all
from tests.test_url_configurations import Pki, b64


# ---------------------------------------------------------------- how a secret may show
def encodings(secret: bytes) -> set[bytes]:
    """The forms a leaked secret could take (long enough not to match by chance)."""
    forms = {secret, secret.hex().encode(), base64.urlsafe_b64encode(secret).rstrip(b"=")}
    for shift in range(3):  # base64 of the secret inside a larger blob, at each byte alignment
        encoded = base64.b64encode(bytes(shift) + secret)
        start = (4 * shift + 2) // 3
        forms.add(encoded[start + 1 : -4] if shift else encoded[:-4])
    try:
        text = secret.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        forms.add(json.dumps(text)[1:-1].encode())  # as a JSON string escapes it
    return {form for form in forms if len(form) >= 16}


class Secrets:
    def __init__(self) -> None:
        self.named: dict[str, set[bytes]] = {}

    def add(self, name: str, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        self.named.setdefault(name, set()).update(encodings(raw))

    def add_pem(self, name: str, pem: bytes) -> None:
        """A PEM: as a whole, its DER, and every line of its base64 body."""
        self.add(name, pem)
        body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
        self.add(name, base64.b64decode(body))
        for line in pem.splitlines():
            if len(line) >= 16 and not line.startswith(b"-----"):
                self.named[name].add(line)

    def found_in(self, haystack: bytes) -> list[str]:
        return sorted(name for name, forms in self.named.items() if any(form in haystack for form in forms))


def _item_bytes(item: dict[str, Any]) -> bytes:
    """An item as searchable bytes: text as UTF-8, binary values raw and in base64."""
    parts: list[bytes] = []

    def walk(value: Any) -> None:
        if isinstance(value, bytes | bytearray) or (hasattr(value, "value") and isinstance(value.value, bytes)):
            raw = bytes(value.value if hasattr(value, "value") else value)
            parts.extend([raw, base64.b64encode(raw)])
        elif isinstance(value, dict):
            for key, inner in value.items():
                parts.append(str(key).encode())
                walk(inner)
        elif isinstance(value, list | set | tuple):
            for inner in value:
                walk(inner)
        else:
            parts.append(str(value).encode("utf-8", "surrogatepass"))

    walk(item)
    return b"\x00".join(parts)


def stored_items(aws) -> Iterable[tuple[str, dict[str, Any]]]:
    import boto3

    client = boto3.client("dynamodb")
    for logical in ("AgentsTable", "DirectoryTable"):
        for item in scan_all(client, aws.refs[logical]):
            yield logical, item


def kas_headers(agent_token: str | None = None) -> tuple[dict[str, str], str]:
    now = int(time.time())
    token = jwt.encode(
        {"iss": "gitlab-kas", "aud": "gitlab", "exp": now + 5}, base64.b64decode(KAS_SECRET), algorithm="HS256"
    )
    headers = {"Gitlab-Kas-Api-Request": token}
    if agent_token:
        headers["Authorization"] = f"Bearer {agent_token}"
    return headers, token


def ok(response: Response, status: int) -> Any:
    assert response.status == status, response.text
    return response.json() if response.text else None


# ---------------------------------------------------------------- the run
@pytest.fixture
def logs(capsys):
    """Everything the functions print (Powertools' JSON log lines, EMF metrics), at DEBUG level.

    Powertools keeps one handler per service for the life of the process, bound to the stdout of
    the moment it was made: point it at this test's captured stdout for the test's duration."""
    from cluster_agents.observability import logger

    handler = logger().registered_handler
    previous_stream, previous_level = handler.stream, logger().log_level
    handler.stream = sys.stdout  # (not setStream: it flushes the old stream, which may be closed)
    logger().setLevel("DEBUG")
    yield capsys
    handler.stream = previous_stream
    logger().setLevel(previous_level)


@pytest.fixture
def run(aws, api, world, logs):
    """Create and use every kind of secret; returns what to look for and every answer given."""
    from cluster_agents import crypto as keys
    from cluster_agents.store.url_configurations import url_configurations

    found = Secrets()
    found.add("root PAT", ROOT_TOKEN)
    found.add("KAS secret", base64.b64decode(KAS_SECRET))
    found.add("KAS secret (base64)", KAS_SECRET)
    responses: list[Response] = []
    creating: dict[str, Response] = {}

    def keep(response: Response) -> Response:
        responses.append(response)
        return response

    group = world.group("secretive")
    project = world.project("vault", namespace_id=group["id"])
    dev = world.user("dev")
    found.add("dev PAT", dev.token)
    world.member("project", project["id"], dev, 40)
    creating["PAT"] = api.post(f"/users/{dev.id}/personal_access_tokens", json_body={"name": "ci", "scopes": ["api"]})
    spare = ok(creating["PAT"], 201)
    found.add("spare PAT", spare["token"])
    ok(api.delete(f"/personal_access_tokens/{spare['id']}"), 204)  # revoked: its token still a secret
    creating["own PAT"] = dev.client.post(
        "/user/personal_access_tokens", json_body={"name": "kubectl", "scopes": ["k8s_proxy"]}
    )
    own = ok(creating["own PAT"], 201)
    found.add("own k8s_proxy PAT", own["token"])
    keep(ApiClient(own["token"]).get("/personal_access_tokens/self"))
    keep(ApiClient(own["token"]).get("/metadata"))  # refused: not a scope the metadata accepts

    base = f"/projects/{project['id']}/cluster_agents"
    mtls_agent = ok(dev.client.post(base, json_body={"name": "mtls"}), 201)
    jwt_agent = ok(dev.client.post(base, json_body={"name": "jwt"}), 201)
    tokens = f"{base}/{mtls_agent['id']}/tokens"
    creating["agent token"] = dev.client.post(tokens, json_body={"name": "live", "description": "kept"})
    live = ok(creating["agent token"], 201)
    found.add("agent token", live["token"])
    doomed = ok(dev.client.post(tokens, json_body={"name": "doomed"}), 201)
    found.add("revoked agent token", doomed["token"])
    ok(dev.client.delete(f"{tokens}/{doomed['id']}"), 204)

    pki = Pki()
    found.add_pem("mTLS client key", pki.client_key)
    creating["mTLS configuration"] = dev.client.post(
        f"{base}/{mtls_agent['id']}/url_configurations",
        json_body={
            "url": "grpcs://agent.example.com:443",
            "client_cert": b64(pki.client_cert),
            "client_key": b64(pki.client_key),
            "ca_cert": b64(pki.ca_cert),
            "tls_host": "agent.example.com",
        },
    )
    ok(creating["mTLS configuration"], 201)
    creating["JWT configuration"] = dev.client.post(
        f"{base}/{jwt_agent['id']}/url_configurations", json_body={"url": "grpc://localhost:8080"}
    )
    ok(creating["JWT configuration"], 201)
    kind, private = url_configurations().private_material(jwt_agent["id"])
    assert kind == "private_key" and len(private) == 32
    found.add("Ed25519 private key", private)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    found.add_pem(
        "Ed25519 private key (PEM)",
        Ed25519PrivateKey.from_private_bytes(private).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    found.add("token digest key", keys._digest_key())
    found.add("data key", keys._current_data_key().plaintext)

    creating["job"] = api.post("/admin/ci/jobs", json_body={"project_id": project["id"], "user_id": dev.id})
    job = ok(creating["job"], 201)
    found.add("job token", job["token"])
    headers, request_jwt = kas_headers(live["token"])
    found.add("KAS request JWT", request_jwt)
    keep(ApiClient().get("/internal/kubernetes/agent_info", headers=headers))
    headers, request_jwt = kas_headers()
    found.add("KAS request JWT (configuration)", request_jwt)
    keep(
        ApiClient().post(
            "/internal/kubernetes/agent_configuration",
            headers=headers,
            json_body={
                "agent_id": mtls_agent["id"],
                "agent_config": {"ci_access": {"projects": [{"id": "secretive/vault"}]}},
            },
        )
    )
    headers, request_jwt = kas_headers()
    found.add("KAS request JWT (proxy user)", request_jwt)
    proxy_request = {"agent_id": mtls_agent["id"], "access_type": "personal_access_token", "access_key": own["token"]}
    keep(ApiClient().post("/internal/kubernetes/authorize_proxy_user", headers=headers, json_body=proxy_request))
    keep(ApiClient(job["token"]).get("/job/allowed_agents", auth="job-token"))
    keep(ApiClient().get("/job/allowed_agents", params={"job_token": job["token"]}))

    # Failures that carry credentials or secrets in the request.
    keep(ApiClient(spare["token"]).get("/user"))  # revoked PAT
    keep(ApiClient("glpat-" + "x" * 20).get("/user"))
    keep(ApiClient(live["token"]).get(base))  # an agent token where a PAT belongs
    keep(ApiClient(job["token"]).get(base, auth="job-token"))  # a job token on a user route
    keep(
        dev.client.post(
            f"{base}/{jwt_agent['id']}/url_configurations",
            json_body={
                "url": "grpcs://x.example.com",
                "client_cert": b64(pki.client_cert),
                "client_key": b64(pki.client_key),
            },
        )
    )
    keep(dev.client.post(f"{base}/{mtls_agent['id']}/tokens", json_body={"name": "x" * 300}))
    keep(dev.client.get(base, params={"private_token": dev.token, "per_page": 1}))  # Link must not echo it
    headers, _ = kas_headers(doomed["token"])
    keep(ApiClient().get("/internal/kubernetes/agent_info", headers=headers))
    with inject("dynamodb", Fault("TransactWriteItems", "ValidationException", times=1, message="boom")):
        keep(dev.client.post(tokens, json_body={"name": "during an outage"}))  # an unexpected error, logged
    keep(ApiClient(job["token"]).put(f"/jobs/{job['id']}", json_body={"state": "success"}, auth="job-token"))

    # Everything read again.
    for path in (
        base,
        f"{base}/{mtls_agent['id']}",
        tokens,
        f"{tokens}/{live['id']}",
        f"{tokens}/{doomed['id']}",
        f"{base}/{mtls_agent['id']}/url_configurations",
        f"{base}/{jwt_agent['id']}/url_configurations",
        f"/projects/{project['id']}",
        f"/projects/{project['id']}/members",
        f"/groups/{group['id']}",
        f"/groups/{group['id']}/members",
        "/user",
        f"/users/{dev.id}",
    ):
        keep(dev.client.get(path))
        keep(api.get(path))
    for configuration in (creating["mTLS configuration"], creating["JWT configuration"]):
        body = configuration.json()
        keep(dev.client.get(f"{base}/{body['agent_id']}/url_configurations/{body['id']}"))
    out, err = logs.readouterr()
    return found, responses, creating, (out + err).encode("utf-8", "surrogatepass"), live, job, spare


# ---------------------------------------------------------------- the checks
def test_nothing_at_rest_holds_a_secret(aws, run):
    found = run[0]
    leaks = []
    for table, item in stored_items(aws):
        hits = found.found_in(_item_bytes(item))
        if hits:
            leaks.append((table, item["pk"][:40], item["sk"][:40], hits))
    assert not leaks, leaks
    # and the private material is there, sealed: a KMS envelope, not the key
    sealed = [item for _, item in stored_items(aws) if item.get("sk") == "U"]
    assert len(sealed) == 2
    assert all(
        str(item.get("client_key_encrypted") or item.get("private_key_encrypted")).startswith("v2.") for item in sealed
    )


def test_no_log_line_holds_a_secret(run):
    found, logs = run[0], run[3]
    lines = [line for line in logs.splitlines() if line.strip()]
    assert any(b"agent token created" in line for line in lines), "the functions' logs were not captured"
    assert any(b"unexpected error" in line for line in lines)
    leaks = [(found.found_in(line), line[:200]) for line in lines if found.found_in(line)]
    assert not leaks, leaks


def test_no_later_response_carries_a_secret(run):
    found, responses = run[0], run[1]
    assert len(responses) > 30
    for response in responses:
        text = (response.text + json.dumps(dict(response.headers))).encode("utf-8", "surrogatepass")
        assert not found.found_in(text), (response.event.get("path"), response.status, found.found_in(text))


def test_only_the_creating_response_carries_a_secret_once(run):
    found, creating, live, job, spare = run[0], run[2], run[4], run[5], run[6]
    for name, token in (
        ("agent token", live["token"]),
        ("job", job["token"]),
        ("PAT", spare["token"]),
        ("own PAT", creating["own PAT"].json()["token"]),
    ):
        assert creating[name].text.count(token) == 1, name
    for name in ("mTLS configuration", "JWT configuration"):
        body = creating[name].json()
        assert "client_key" not in body and "private_key" not in body
        assert not found.found_in(creating[name].text.encode()), name
