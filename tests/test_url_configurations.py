"""Receptive agents' URL configurations (SPEC §4): every status, message and field, both ways of
authenticating (a real CA, client certificate and key made here), roles, the instance setting,
If-Unmodified-Since, the one-per-agent limit, and private material that is never stored or
logged in the clear."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from cluster_agents.domain.url_configurations import (
    UrlConfigurationRequest,
    decode_base64_leniently,
    prepare_url_configuration,
    valid_tls_host,
    valid_url,
)
from cluster_agents.errors import ValidationFailed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.apigw import LambdaContext, match_route
from testkit.client import ApiClient

FIELDS = ["id", "agent_id", "url", "public_key", "client_cert", "ca_cert", "tls_host"]
PAGINATION_HEADERS = ("X-Total", "X-Total-Pages", "X-Per-Page", "X-Page", "X-Next-Page", "X-Prev-Page", "Link")
EVENTS = Path(__file__).resolve().parent.parent / "events" / "url_configurations"
URL = "grpcs://agent.example.com:4242"
DEVELOPER, MAINTAINER, REPORTER, GUEST = 30, 40, 20, 10


# ---------------------------------------------------------------- certificates made here
def ruby_encode64(data: bytes) -> str:
    """Ruby's Base64.encode64, as GitLab's own tests send certificates: a line break every 60."""
    text = base64.b64encode(data).decode()
    return "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Pki:
    """A CA, and a client certificate it signed with the client's private key (PEM)."""

    def __init__(self, rsa_client: bool = False) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import NameOID

        now = dt.datetime.now(dt.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Agents test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        if rsa_client:
            client_key: Any = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_format = serialization.PrivateFormat.TraditionalOpenSSL  # BEGIN RSA PRIVATE KEY
        else:
            client_key = ec.generate_private_key(ec.SECP256R1())
            key_format = serialization.PrivateFormat.PKCS8
        client = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitlab")]))
            .issuer_name(ca_name)
            .public_key(client_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_cert = ca.public_bytes(pem)
        self.client_cert = client.public_bytes(pem)
        self.client_key = client_key.private_bytes(pem, key_format, serialization.NoEncryption())
        self.client_key_der = client_key.private_bytes(
            serialization.Encoding.DER, key_format, serialization.NoEncryption()
        )
        self.public_key_pem = client_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


# ---------------------------------------------------------------- agents
def put_agent(ddb: Any, table: str, project_id: int, name: str, created_by_user_id: int = 1) -> int:
    """An agent written straight to the agents table, as store/agents.py lays it out: the agent
    item, its name-index copy and the project's agent count."""
    from cluster_agents import clock

    agent_id = int(
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "COUNTER"}, "sk": {"S": "agent"}},
            UpdateExpression="ADD #v :one",
            ExpressionAttributeNames={"#v": "value"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )["Attributes"]["value"]["N"]
    )
    now = clock.now_iso()
    fields = {
        "id": {"N": str(agent_id)},
        "project_id": {"N": str(project_id)},
        "name": {"S": name},
        "created_at": {"S": now},
        "updated_at": {"S": now},
        "created_by_user_id": {"N": str(created_by_user_id)},
        "is_receptive": {"BOOL": False},
        "active_tokens": {"N": "0"},
        "version": {"N": "0"},
    }
    ddb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": f"AGENT#{agent_id}"}, "sk": {"S": "A"}, **fields},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Put": {
                    "TableName": table,
                    "Item": {"pk": {"S": f"PROJECT#{project_id}"}, "sk": {"S": f"AGENT#{name}"}, **fields},
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": {"pk": {"S": f"PROJECT#{project_id}"}, "sk": {"S": "#STATS"}},
                    "UpdateExpression": "ADD agent_count :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            },
        ]
    )
    return agent_id


def new_agent(client: ApiClient, project_id: int, name: str = "agent") -> int:
    """An agent through POST /projects/:id/cluster_agents."""
    made = client.post(f"/projects/{project_id}/cluster_agents", json_body={"name": name})
    assert made.status == 201, made.text
    return made.json()["id"]


def scan_agents_table() -> list[dict[str, Any]]:
    from cluster_agents.settings import get_settings
    from cluster_agents.store import dynamo

    items, start = [], None
    while True:
        page = dynamo.ddb().scan(
            TableName=get_settings().agents_table,
            ConsistentRead=True,
            **({"ExclusiveStartKey": start} if start else {}),
        )
        items += [dynamo.from_item(raw) for raw in page.get("Items", [])]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def stored(pk: str, sk: str) -> dict[str, Any] | None:
    from cluster_agents.settings import get_settings
    from cluster_agents.store import dynamo

    return dynamo.get(get_settings().agents_table, pk, sk)


def invariants_hold() -> None:
    from cluster_agents.ops.invariants import check_items

    report = check_items(scan_agents_table())
    assert report.ok, report.violations


@pytest.fixture
def setup(world, api):
    """A private project with an agent."""
    project = world.project("cluster")
    agent_id = new_agent(api, project["id"], "primary")
    base = f"/projects/{project['id']}/cluster_agents/{agent_id}/url_configurations"
    return {"project": project, "agent_id": agent_id, "base": base}


@pytest.fixture
def staffed(world, setup):
    """The same, with members at every role below Owner."""
    for role, level in (("guest", GUEST), ("reporter", REPORTER), ("developer", DEVELOPER), ("maintainer", MAINTAINER)):
        setup[role] = world.user(role)
        world.member("project", setup["project"]["id"], setup[role], level)
    return setup


def assert_entity(body: dict, agent_id: int) -> None:
    assert list(body) == FIELDS
    assert isinstance(body["id"], int) and body["agent_id"] == agent_id
    assert (body["public_key"] is None) != (body["client_cert"] is None), "exactly one of public_key, client_cert"


# ================================================================ the domain, without AWS
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("YWJjZGVm", b"abcdef"),
        ("YWJj\nZGVm\n", b"abcdef"),  # Ruby's encode64 line breaks
        ("YW Jj\r\nZG\tVm", b"abcdef"),
        ("YQ==", b"a"),
        ("YQ", b"a"),  # missing padding
        ("YWI", b"ab"),
        ("Y", b""),  # a lone symbol decodes to nothing
        ("YWJj=ZGVm", b"abcdef"),  # '=' where a group starts is skipped
        ("YW=Jj", b"a"),  # '=' inside a group ends the input
        ("", b""),
        ("!!!@@@", b""),
        ("é✓YWJj", b"abc"),
    ],
)
def test_base64_is_decoded_as_ruby_decode64_does(text, expected):
    assert decode_base64_leniently(text) == expected


@pytest.mark.parametrize(
    "url",
    [
        "grpc://agent.example.com",
        "grpcs://agent.example.com:4242",
        "grpcs://localhost:4242",
        "grpc://localhost",
        "grpc://10.0.0.1:8080",
        "grpcs://[::1]:443",
        "grpcs://Agent.Example.com",
        "grpcs://agent.example.com/path?q=1",
        "grpcs://user@agent.example.com",
        "grpc://agent_1.internal:80",
    ],
)
def test_valid_urls(url):
    assert valid_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "agent.example.com",
        "http://agent.example.com",
        "https://agent.example.com",
        "grpc:/agent",
        "grpc://",
        "grpc://:4242",
        "grpc:agent.example.com",
        "grpc://agent example.com",
        " grpc://agent.example.com",
        "grpc://agent.example.com ",
        "grpc://[::zz]:1",
        "grpc://agent.example.com:12ab",
        "ws://agent",
        "grpc://agent.example.com\n",
        "grpc://agent/\u00e9",
        "GRPCS://agent.example.com",
        "Grpc://agent",
    ],
)
def test_invalid_urls(url):
    assert not valid_url(url)


@pytest.mark.parametrize(
    ("host", "valid"),
    [
        ("example.com", True),
        ("agent-1.example.com", True),
        ("localhost", True),
        ("10.0.0.1", True),
        ("[::1]", True),
        ("Example.COM", True),
        ("example.com:443", False),
        ("https://example.com", False),
        ("user@example.com", False),
        ("example.com/path", False),
        ("exa mple.com", False),
        ("::1", False),
        ("example.com?x", False),
        ("[::zz]", False),
    ],
)
def test_tls_host_is_a_bare_host(host, valid):
    assert valid_tls_host(host) is valid


def test_every_failing_validation_is_listed_in_the_model_order(pki):
    request = UrlConfigurationRequest(
        url="http://nope",
        ca_cert=b64(b"not a cert"),
        tls_host="a b",
        client_cert=b64(b"junk"),
        client_key=b64(pki.public_key_pem),
    )
    with pytest.raises(ValidationFailed) as raised:
        prepare_url_configuration(request)
    assert raised.value.messages == [
        "Url is not a valid URL",
        "Ca cert must be a valid PEM certificate",
        "Tls host must be a valid hostname!",
        "Client cert must be a valid PEM certificate",
        "Client key must be a valid PEM private key",
    ]


def test_client_key_without_client_cert_asks_for_the_certificate(pki):
    with pytest.raises(ValidationFailed) as raised:
        prepare_url_configuration(UrlConfigurationRequest(url=URL, client_key=b64(pki.client_key)))
    assert raised.value.messages == ["Client cert must be a valid PEM certificate"]


def test_an_empty_client_key_still_means_mtls():
    with pytest.raises(ValidationFailed) as raised:
        prepare_url_configuration(UrlConfigurationRequest(url=URL, client_key=""))
    assert raised.value.messages == [
        "Client cert must be a valid PEM certificate",
        "Client key must be a valid PEM private key",
    ]


def test_jwt_draft_has_a_fresh_ed25519_pair_and_ignores_a_client_cert(pki):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    draft = prepare_url_configuration(UrlConfigurationRequest(url=URL, client_cert=b64(pki.client_cert)))
    assert draft.client_cert is None and draft.private_kind == "private_key"
    assert len(draft.public_key) == 32 and len(draft.private_material) == 32
    derived = Ed25519PrivateKey.from_private_bytes(draft.private_material).public_key()
    assert derived.public_bytes(Encoding.Raw, PublicFormat.Raw) == draft.public_key
    assert "private_material" not in repr(draft) and draft.private_material.hex() not in repr(draft)
    other = prepare_url_configuration(UrlConfigurationRequest(url=URL))
    assert other.public_key != draft.public_key


def test_blank_optional_values_count_as_absent():
    draft = prepare_url_configuration(UrlConfigurationRequest(url=URL, ca_cert="", tls_host="  "))
    assert (draft.ca_cert, draft.tls_host) == (None, None)
    draft = prepare_url_configuration(UrlConfigurationRequest(url=URL, ca_cert=b64(b" \n ")))
    assert draft.ca_cert is None


def test_oversized_values_are_refused_not_stored(pki):
    huge = b64(pki.ca_cert * 1000)
    with pytest.raises(ValidationFailed) as raised:
        prepare_url_configuration(UrlConfigurationRequest(url="grpc://" + "a" * 3000, ca_cert=huge))
    assert raised.value.messages == [
        "Url is too long (maximum is 2048 characters)",
        "Ca cert is too long (maximum is 196608 characters)",
    ]


_b64_of_bytes = st.binary(max_size=600).map(lambda data: base64.b64encode(data).decode())
_b64_of_pem = st.binary(max_size=300).map(
    lambda der: b64(b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n")
)
_field = st.one_of(st.none(), st.text(max_size=200), _b64_of_bytes, _b64_of_pem)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    url=st.one_of(st.text(max_size=100), st.from_regex(r"\Agrpcs?://[a-z0-9.:\[\]_-]{0,30}\Z")),
    client_cert=_field,
    client_key=_field,
    ca_cert=_field,
    tls_host=st.one_of(st.none(), st.text(max_size=40)),
)
def test_any_input_is_a_draft_or_a_validation_failure(url, client_cert, client_key, ca_cert, tls_host):
    """Whatever arrives, the answer is a configuration or GitLab's 400 - never a crash (a 500)."""
    request = UrlConfigurationRequest(
        url=url, client_cert=client_cert, client_key=client_key, ca_cert=ca_cert, tls_host=tls_host
    )
    try:
        draft = prepare_url_configuration(request)
    except ValidationFailed as failure:
        assert failure.messages and all(isinstance(message, str) for message in failure.messages)
    else:
        assert (draft.public_key is None) != (draft.client_cert is None)


# ================================================================ the API
def test_jwt_configuration_lifecycle(setup, api):
    base, agent_id = setup["base"], setup["agent_id"]
    listed = api.get(base)
    assert (listed.status, listed.json()) == (200, [])
    assert listed.headers["Content-Type"] == "application/json"

    created = api.post(base, json_body={"url": URL})
    assert created.status == 201, created.text
    body = created.json()
    assert_entity(body, agent_id)
    assert body["url"] == URL
    assert body["client_cert"] is None and body["ca_cert"] is None and body["tls_host"] is None
    assert len(body["public_key"]) == 44 and "\n" not in body["public_key"]
    assert len(base64.b64decode(body["public_key"], validate=True)) == 32
    assert created.headers["Content-Type"] == "application/json"

    listed = api.get(base)
    assert (listed.status, listed.json()) == (200, [body])
    for header in PAGINATION_HEADERS:
        assert listed.headers.get(header) is None, header
    single = api.get(f"{base}/{body['id']}")
    assert (single.status, single.json()) == (200, body)

    assert stored(f"AGENT#{agent_id}", "A")["is_receptive"] is True
    assert stored(f"PROJECT#{setup['project']['id']}", "AGENT#primary")["is_receptive"] is True
    invariants_hold()

    deleted = api.delete(f"{base}/{body['id']}")
    assert (deleted.status, deleted.text) == (204, "")
    assert api.get(base).json() == []
    assert api.get(f"{base}/{body['id']}").json() == {"message": "404 Not Found"}
    assert stored(f"AGENT#{agent_id}", "A")["is_receptive"] is False
    assert stored(f"PROJECT#{setup['project']['id']}", "AGENT#primary")["is_receptive"] is False
    assert stored(f"AGENT#{agent_id}", "U") is None
    invariants_hold()

    again = api.post(base, json_body={"url": "grpc://localhost"})
    assert again.status == 201
    assert again.json()["id"] != body["id"] and again.json()["public_key"] != body["public_key"]


def test_mtls_configuration_with_certificates_sent_as_gitlab_tests_send_them(setup, api):
    pki = Pki(rsa_client=True)
    created = api.post(
        setup["base"],
        json_body={
            "url": "grpcs://localhost:4242",
            "client_cert": ruby_encode64(pki.client_cert),
            "client_key": ruby_encode64(pki.client_key),
            "ca_cert": ruby_encode64(pki.ca_cert),
            "tls_host": "agent.example.com",
        },
    )
    assert created.status == 201, created.text
    body = created.json()
    assert_entity(body, setup["agent_id"])
    assert body["public_key"] is None
    assert base64.b64decode(body["client_cert"], validate=True) == pki.client_cert
    assert base64.b64decode(body["ca_cert"], validate=True) == pki.ca_cert
    assert body["client_cert"] == b64(pki.client_cert)  # strict: no line breaks
    assert body["tls_host"] == "agent.example.com"
    assert "client_key" not in body and "private_key" not in body
    assert api.get(f"{setup['base']}/{body['id']}").json() == body


def test_form_encoded_create_and_ca_cert_alone(setup, pki, api):
    created = api.post(setup["base"], data={"url": URL, "ca_cert": b64(pki.ca_cert)})
    assert created.status == 201, created.text
    body = created.json()
    assert base64.b64decode(body["ca_cert"]) == pki.ca_cert
    assert body["public_key"] is not None and body["client_cert"] is None


def test_client_cert_without_client_key_is_ignored(setup, pki, api):
    body = api.post(setup["base"], json_body={"url": URL, "client_cert": b64(pki.client_cert)}).json()
    assert body["client_cert"] is None and len(body["public_key"]) == 44


def test_client_key_without_client_cert_is_400(setup, pki, api):
    response = api.post(setup["base"], json_body={"url": URL, "client_key": b64(pki.client_key)})
    assert (response.status, response.json()) == (
        400,
        {"message": '400 Bad request - ["Client cert must be a valid PEM certificate"]'},
    )
    assert api.get(setup["base"]).json() == []


def test_all_validation_messages_at_once(setup, pki, api):
    response = api.post(
        setup["base"],
        json_body={
            "url": "https://agent.example.com",
            "ca_cert": b64(b"-----BEGIN CERTIFICATE-----\nnope\n"),
            "tls_host": "agent.example.com:443",
            "client_cert": b64(pki.client_key),
            "client_key": b64(pki.client_cert),
        },
    )
    assert response.status == 400
    assert response.json() == {
        "message": '400 Bad request - ["Url is not a valid URL", '
        '"Ca cert must be a valid PEM certificate", '
        '"Tls host must be a valid hostname!", '
        '"Client cert must be a valid PEM certificate", '
        '"Client key must be a valid PEM private key"]'
    }
    assert stored(f"AGENT#{setup['agent_id']}", "U") is None
    assert stored(f"AGENT#{setup['agent_id']}", "A")["is_receptive"] is False


@pytest.mark.parametrize(
    "garbage",
    [
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "not base64 at all!",
        "////",
        "AAAA",
        "Zm9v",
        "\u00e9Zm9v\u2713",
        "%%Zm9v%%",
        "Zm9v" * 4000,
    ],
)
def test_undecodable_certificates_are_400_never_500(setup, garbage, api):
    response = api.post(setup["base"], json_body={"url": URL, "ca_cert": garbage})
    assert (response.status, response.json()) == (
        400,
        {"message": '400 Bad request - ["Ca cert must be a valid PEM certificate"]'},
    )
    response = api.post(setup["base"], json_body={"url": URL, "client_cert": garbage, "client_key": garbage})
    assert (response.status, response.json()) == (
        400,
        {
            "message": '400 Bad request - ["Client cert must be a '
            'valid PEM certificate", "Client key must be a '
            'valid PEM private key"]'
        },
    )


@pytest.mark.parametrize("garbage", ["!!!", "====", "\u00e9\u00e8\u2713", "A", "%%%%", "\x00\x01", "IA==", "CgkK"])
def test_certificates_decoding_to_nothing_count_as_absent(setup, garbage, api):
    """Base64.decode64 skips what is not base64; a blank result is nil (nullify_if_blank)."""
    response = api.post(setup["base"], json_body={"url": URL, "client_key": garbage, "client_cert": garbage})
    assert response.json() == {
        "message": '400 Bad request - ["Client cert must be a valid PEM certificate", '
        '"Client key must be a valid PEM private key"]'
    }
    response = api.post(setup["base"], json_body={"url": URL, "ca_cert": garbage})
    assert response.status == 201, response.text
    assert response.json()["ca_cert"] is None


def test_encrypted_or_public_keys_are_not_private_keys(setup, pki, api):
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pki.client_key, None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"secret")
    )
    for client_key in (encrypted, pki.public_key_pem, pki.client_key_der):
        response = api.post(
            setup["base"], json_body={"url": URL, "client_cert": b64(pki.client_cert), "client_key": b64(client_key)}
        )
        assert response.json() == {"message": '400 Bad request - ["Client key must be a valid PEM private key"]'}


def test_one_configuration_per_agent(setup, api):
    assert api.post(setup["base"], json_body={"url": URL}).status == 201
    second = api.post(setup["base"], json_body={"url": "grpc://other.example.com"})
    assert (second.status, second.json()) == (
        400,
        {"message": "400 Bad request - URL configuration already exists for this agent"},
    )
    # The limit is checked before the fields (CreateUrlConfigurationService).
    invalid = api.post(setup["base"], json_body={"url": "nope"})
    assert invalid.json() == {"message": "400 Bad request - URL configuration already exists for this agent"}
    assert len(api.get(setup["base"]).json()) == 1
    assert len([i for i in scan_agents_table() if i["sk"] == "U"]) == 1


def test_the_write_itself_enforces_the_limit(setup, api):
    """Even when the agent read before the write still looked non-receptive."""
    from cluster_agents.domain.agents import Agent
    from cluster_agents.domain.url_configurations import UrlConfigurationRequest as Request
    from cluster_agents.errors import UrlConfigurationExists
    from cluster_agents.store.agents import agents
    from cluster_agents.store.url_configurations import url_configurations

    stale: Agent = agents().get(setup["agent_id"])
    assert api.post(setup["base"], json_body={"url": URL}).status == 201
    with pytest.raises(UrlConfigurationExists):
        url_configurations().create_for_agent(stale, prepare_url_configuration(Request(url=URL)), 1)
    assert len([i for i in scan_agents_table() if i["sk"] == "U"]) == 1
    invariants_hold()


def test_deleting_the_agent_deletes_its_configuration(setup, api):
    made = api.post(setup["base"], json_body={"url": URL})
    assert made.status == 201
    agent = api.get(f"/projects/{setup['project']['id']}/cluster_agents/{setup['agent_id']}").json()
    assert agent["is_receptive"] is True
    deleted = api.delete(f"/projects/{setup['project']['id']}/cluster_agents/{setup['agent_id']}")
    assert deleted.status == 204, deleted.text
    assert stored(f"AGENT#{setup['agent_id']}", "U") is None
    assert api.get(setup["base"]).json() == {"message": "404 Not found"}
    invariants_hold()


def test_configuration_ids_are_checked_against_the_agent(world, setup, api):
    other_agent = new_agent(api, setup["project"]["id"], "secondary")
    other_base = f"/projects/{setup['project']['id']}/cluster_agents/{other_agent}/url_configurations"
    theirs = api.post(other_base, json_body={"url": URL}).json()
    ours = api.post(setup["base"], json_body={"url": URL}).json()
    for path in (f"{setup['base']}/{theirs['id']}", f"{setup['base']}/999999", f"{other_base}/{ours['id']}"):
        for method in ("get", "delete"):
            response = getattr(api, method)(path)
            assert (response.status, response.json()) == (404, {"message": "404 Not Found"}), (method, path)
    assert len(api.get(other_base).json()) == 1


def test_unknown_agent_or_agent_of_another_project_is_404_not_found(world, setup, api):
    elsewhere = world.project("elsewhere")
    foreign_agent = new_agent(api, elsewhere["id"], "foreign")
    project_id = setup["project"]["id"]
    for agent_id in (999999, foreign_agent):
        base = f"/projects/{project_id}/cluster_agents/{agent_id}/url_configurations"
        for response in (
            api.get(base),
            api.get(f"{base}/1"),
            api.post(base, json_body={"url": URL}),
            api.delete(f"{base}/1"),
        ):
            assert (response.status, response.json()) == (404, {"message": "404 Not found"})


def test_project_not_found(world, staffed):
    stranger = world.user("stranger")
    for client, project in (
        (staffed["maintainer"].client, "999999"),
        (stranger.client, str(staffed["project"]["id"])),
        (staffed["maintainer"].client, "not-a-path"),
    ):
        base = f"/projects/{project}/cluster_agents/{staffed['agent_id']}/url_configurations"
        for response in (
            client.get(base),
            client.get(f"{base}/1"),
            client.post(base, json_body={"url": URL}),
            client.delete(f"{base}/1"),
        ):
            assert (response.status, response.json()) == (404, {"message": "404 Project Not Found"})


def test_project_by_url_encoded_full_path(setup, api):
    encoded = setup["project"]["path_with_namespace"].replace("/", "%2F")
    base = f"/projects/{encoded}/cluster_agents/{setup['agent_id']}/url_configurations"
    created = api.post(base, json_body={"url": URL})
    assert created.status == 201, created.text
    assert api.get(base).json() == [created.json()]


def test_roles(staffed, api):
    base = staffed["base"]
    forbidden = {"message": "403 Forbidden"}
    for role in ("guest", "reporter"):
        client = staffed[role].client
        for response in (
            client.get(base),
            client.get(f"{base}/1"),
            client.post(base, json_body={"url": URL}),
            client.delete(f"{base}/1"),
        ):
            assert (response.status, response.json()) == (403, forbidden), role
    developer = staffed["developer"].client
    assert developer.post(base, json_body={"url": URL}).json() == forbidden
    made = staffed["maintainer"].client.post(base, json_body={"url": URL})
    assert made.status == 201
    configuration_id = made.json()["id"]
    assert developer.get(base).json() == [made.json()]
    assert developer.get(f"{base}/{configuration_id}").json() == made.json()
    assert (developer.delete(f"{base}/{configuration_id}").status) == 403
    # the role comes before the agent: a Developer deleting on a missing agent is refused, not told
    missing = f"/projects/{staffed['project']['id']}/cluster_agents/999999/url_configurations"
    assert developer.delete(f"{missing}/1").json() == forbidden
    assert developer.post(missing, json_body={"url": URL}).json() == forbidden
    assert staffed["guest"].client.get(missing).json() == forbidden
    assert staffed["maintainer"].client.delete(f"{base}/{configuration_id}").status == 204


def test_public_project_non_member_is_403(world, api):
    project = world.project("open", visibility="public")
    agent_id = new_agent(api, project["id"], "public-agent")
    outsider = world.user("outsider")
    base = f"/projects/{project['id']}/cluster_agents/{agent_id}/url_configurations"
    assert (outsider.client.get(base).status, outsider.client.get(base).json()) == (403, {"message": "403 Forbidden"})


def test_authentication(staffed):
    anonymous = ApiClient()
    base = staffed["base"]
    for response in (
        anonymous.get(base),
        anonymous.get(f"{base}/1"),
        anonymous.post(base, json_body={}),
        anonymous.delete(f"{base}/1"),
        ApiClient("glpat-unknown").get(base),
        anonymous.get("/projects/1/cluster_agents/abc/url_configurations/xyz"),
    ):
        assert (response.status, response.json()) == (401, {"message": "401 Unauthorized"})
    maintainer = staffed["maintainer"]
    assert ApiClient(maintainer.token).post(base, json_body={"url": URL}, auth="bearer").status == 201
    assert anonymous.get(base, params={"private_token": maintainer.token}).status == 200


def test_read_api_token_reads_but_cannot_write(world, setup):
    reader = world.user("reader", scopes=["read_api"])
    world.member("project", setup["project"]["id"], reader, MAINTAINER)
    assert reader.client.get(setup["base"]).status == 200
    response = reader.client.post(setup["base"], json_body={"url": URL})
    assert response.status == 403
    assert response.json()["error"] == "insufficient_scope"


def test_parameters(setup, api):
    project_id = setup["project"]["id"]
    base = setup["base"]
    cases = [
        (api.post(base, json_body={}), "url is missing"),
        (api.post(base), "url is missing"),
        (api.post(base, json_body={"url": ["grpc://a"]}), "url is invalid"),
        (api.post(base, json_body={"url": {"a": 1}}), "url is invalid"),
        (
            api.post(f"/projects/{project_id}/cluster_agents/abc/url_configurations", json_body={}),
            "agent_id is invalid, url is missing",
        ),
        (api.get(f"/projects/{project_id}/cluster_agents/abc/url_configurations"), "agent_id is invalid"),
        (api.get(f"{base}/x1"), "url_configuration_id is invalid"),
        (
            api.delete(f"/projects/{project_id}/cluster_agents/a/url_configurations/b"),
            "agent_id is invalid, url_configuration_id is invalid",
        ),
        # parameters are checked before the project is looked up
        (
            api.post("/projects/999999/cluster_agents/1/url_configurations", json_body={"client_key": "x"}),
            "url is missing",
        ),
    ]
    for response, error in cases:
        assert (response.status, response.json()) == (400, {"error": error})
    # a number given as url is a string to Grape (and then not a valid URL)
    response = api.post(base, json_body={"url": 42})
    assert response.json() == {"message": '400 Bad request - ["Url is not a valid URL"]'}
    # empty url passes "missing" and fails validation
    assert api.post(base, json_body={"url": ""}).json() == {"message": '400 Bad request - ["Url is not a valid URL"]'}
    # null optional values are absent values
    created = api.post(
        base, json_body={"url": URL, "client_key": None, "client_cert": None, "ca_cert": None, "tls_host": None}
    )
    assert created.status == 201 and created.json()["public_key"]


def test_gitlab_clients_empty_bodies(setup, api):
    """python-gitlab sends Content-Type: application/json with an empty body; gitbeaker {} on DELETE."""
    made = api.post(setup["base"], json_body={"url": URL}).json()
    json_headers = {"Content-Type": "application/json"}
    assert api.get(setup["base"], headers=json_headers, raw_body="").status == 200
    assert api.get(f"{setup['base']}/{made['id']}", headers=json_headers, raw_body="").status == 200
    assert api.delete(f"{setup['base']}/{made['id']}", json_body={}).status == 204


def test_feature_switch_off_is_404_right_after_authentication(staffed, api, monkeypatch):
    from cluster_agents.settings import get_settings

    monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "false")
    get_settings.cache_clear()
    try:
        base = staffed["base"]
        off = {"message": "404 Not Found"}
        for response in (
            api.get(base),
            api.get(f"{base}/1"),
            api.post(base, json_body={"url": URL}),
            api.delete(f"{base}/1"),
            api.post(base, json_body={}),  # before parameter validation
            api.get("/projects/999999/cluster_agents/abc/url_configurations"),
            staffed["guest"].client.post(base, json_body={"url": URL}),
        ):
            assert (response.status, response.json()) == (404, off)
        assert ApiClient().get(base).json() == {"message": "401 Unauthorized"}
    finally:
        monkeypatch.setenv("RECEPTIVE_AGENTS_ENABLED", "true")
        get_settings.cache_clear()
    assert api.get(staffed["base"]).status == 200


@pytest.mark.parametrize(
    ("header", "status"),
    [
        ("Wed, 21 Oct 2015 07:28:00 GMT", 412),
        ("1990-01-12T00:00:48-0600", 412),
        ("2015-10-21T07:28:00Z", 412),
        ("Fri, 01 Jan 2100 00:00:00 GMT", 204),
        ("2100-01-01T00:00:00Z", 204),
        ("not a date", 204),
        ("", 204),
    ],
)
def test_if_unmodified_since_on_delete(setup, api, header, status):
    made = api.post(setup["base"], json_body={"url": URL}).json()
    response = api.delete(f"{setup['base']}/{made['id']}", headers={"If-Unmodified-Since": header})
    assert response.status == status
    if status == 412:
        assert response.json() == {"message": "412 Precondition Failed"}
        assert api.get(setup["base"]).json() == [made]
        assert stored(f"AGENT#{setup['agent_id']}", "A")["is_receptive"] is True
    else:
        assert api.get(setup["base"]).json() == []


def test_if_unmodified_since_within_the_same_second_is_stale(setup, api):
    """GitLab compares the record's exact updated_at with the whole-second header value."""
    from email.utils import format_datetime

    from cluster_agents import clock

    made = api.post(setup["base"], json_body={"url": URL}).json()
    updated = clock.parse_iso(stored(f"AGENT#{setup['agent_id']}", "U")["updated_at"])
    same_second = format_datetime(updated.replace(microsecond=0), usegmt=True)
    next_second = format_datetime(updated.replace(microsecond=0) + dt.timedelta(seconds=1), usegmt=True)
    expected = 412 if updated.microsecond else 204
    path = f"{setup['base']}/{made['id']}"
    assert api.delete(path, headers={"If-Unmodified-Since": same_second}).status == expected
    if expected == 412:
        assert api.delete(path, headers={"If-Unmodified-Since": next_second}).status == 204


class LogLines(logging.Handler):
    """Every log record of the service, formatted as Powertools writes it to CloudWatch."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        from cluster_agents.observability import logger

        self.lines.append(logger().registered_formatter.format(record))


def test_private_material_is_never_stored_or_logged_in_the_clear(setup, pki, world, api, capsys):
    from cluster_agents.observability import logger
    from cluster_agents.store.url_configurations import url_configurations
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    log = LogLines()
    service_logger = logging.getLogger(logger().service)
    service_logger.addHandler(log)
    try:
        mtls = api.post(
            setup["base"],
            json_body={
                "url": URL,
                "client_cert": ruby_encode64(pki.client_cert),
                "client_key": ruby_encode64(pki.client_key),
            },
        )
        second_agent = new_agent(api, setup["project"]["id"], "jwt-agent")
        jwt_base = f"/projects/{setup['project']['id']}/cluster_agents/{second_agent}/url_configurations"
        jwt = api.post(jwt_base, json_body={"url": URL}).json()
    finally:
        service_logger.removeHandler(log)
    assert mtls.status == 201

    # Given the private keys as the API's adapter decrypts them (KMS envelope, bound to the id)
    kind, client_key = url_configurations().private_material(setup["agent_id"])
    assert (kind, client_key) == ("client_key", pki.client_key)
    kind, seed = url_configurations().private_material(second_agent)
    assert kind == "private_key" and len(seed) == 32
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert b64(public) == jwt["public_key"]

    # Then no stored item holds them, or any encoding of them
    pem_body = "".join(line for line in pki.client_key.decode().splitlines() if not line.startswith("-----"))
    forbidden = [
        pki.client_key.decode(),
        b64(pki.client_key),
        ruby_encode64(pki.client_key).replace("\n", ""),
        pem_body,
        b64(pki.client_key_der),
        seed.hex(),
        b64(seed),
        base64.urlsafe_b64encode(seed).decode().rstrip("="),
    ]
    forbidden_bytes = [pki.client_key, pki.client_key_der, seed]
    items = scan_agents_table()
    assert any(item["sk"] == "U" for item in items)
    for item in items:
        for name, value in item.items():
            raw = bytes(value.value) if hasattr(value, "value") else value
            if isinstance(raw, bytes):
                assert not any(secret in raw for secret in forbidden_bytes), name
                raw = raw.decode("latin-1")
            text = json.dumps(raw) if not isinstance(raw, str) else raw
            assert not any(secret in text for secret in forbidden), (item["pk"], item["sk"], name)
    u_items = [item for item in items if item["sk"] == "U"]
    assert {"client_key_encrypted"} <= set(next(i for i in u_items if i["agent_id"] == setup["agent_id"]))
    assert {"private_key_encrypted"} <= set(next(i for i in u_items if i["agent_id"] == second_agent))

    # And neither the responses nor any log line carry them
    logged = capsys.readouterr()
    created = [line for line in log.lines if '"url configuration created"' in line]
    assert any('"auth":"mtls"' in line for line in created) and any('"auth":"jwt"' in line for line in created)
    everything = "\n".join(log.lines) + logged.out + logged.err + mtls.text + json.dumps(jwt)
    assert not any(secret in everything for secret in forbidden)


def test_envelope_is_bound_to_its_configuration(setup, api):
    """A sealed key copied onto another configuration does not decrypt."""
    from cluster_agents import crypto
    from cryptography.exceptions import InvalidTag

    made = api.post(setup["base"], json_body={"url": URL}).json()
    sealed = stored(f"AGENT#{setup['agent_id']}", "U")["private_key_encrypted"]
    assert sealed.startswith("v2.")
    assert len(crypto.decrypt(sealed, f"url_configuration:{made['id']}")) == 32
    with pytest.raises(InvalidTag):
        crypto.decrypt(sealed, f"url_configuration:{made['id'] + 1}")


def test_data_keys_are_bound_to_their_purpose_in_kms(setup, api):
    """GenerateDataKey and Decrypt both name the purpose as KMS EncryptionContext (CloudTrail shows
    what each Decrypt was for); the data key does not decrypt without it or under another."""
    import base64

    from botocore.exceptions import ClientError
    from cluster_agents import crypto
    from cluster_agents.aws import client

    sent: list[tuple[str, dict]] = []
    kms = client("kms")
    for operation in ("GenerateDataKey", "Decrypt"):
        kms.meta.events.register(
            f"before-parameter-build.kms.{operation}",
            lambda params, model, **_: sent.append((model.name, dict(params))),
        )
    crypto.reset_keys()
    made = api.post(setup["base"], json_body={"url": URL}).json()
    sealed = stored(f"AGENT#{setup['agent_id']}", "U")["private_key_encrypted"]
    crypto.reset_keys()
    assert len(crypto.decrypt(sealed, f"url_configuration:{made['id']}")) == 32
    assert [(name, params.get("EncryptionContext")) for name, params in sent] == [
        ("GenerateDataKey", {"purpose": "url-configuration-private-key"}),
        ("Decrypt", {"purpose": "url-configuration-private-key"}),
    ]
    encrypted_key = base64.b64decode(sealed.split(".")[1])
    for context in ({}, {"EncryptionContext": {"purpose": "something-else"}}):
        with pytest.raises(ClientError, match="InvalidCiphertext"):
            kms.decrypt(CiphertextBlob=encrypted_key, **context)


def test_envelopes_of_unbound_data_keys_still_decrypt(setup):
    """v1 envelopes (a data key made without EncryptionContext) are read as before."""
    import base64
    import os

    from cluster_agents import crypto
    from cluster_agents.aws import client
    from cluster_agents.settings import get_settings
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = client("kms").generate_data_key(KeyId=get_settings().data_key_id, KeySpec="AES_256")
    nonce = os.urandom(12)
    sealed = AESGCM(key["Plaintext"]).encrypt(nonce, b"legacy", b"url_configuration:7")
    envelope = "v1." + ".".join(base64.b64encode(p).decode() for p in (key["CiphertextBlob"], nonce, sealed))
    assert crypto.decrypt(envelope, "url_configuration:7") == b"legacy"


# ================================================================ the sample events
def test_sample_events_drive_the_handler(aws):
    """events/url_configurations/*.json (what `sam local invoke -e` takes), in a world with the
    sample token's root, the project root/sample and its agent 1: list, create, get, delete."""
    import url_configurations_app
    from cluster_agents.bootstrap import seed_root

    from devtools.sam_events import EventRun
    from devtools.sample_events import SAMPLE_TOKEN

    seed_root(SAMPLE_TOKEN)
    client = ApiClient(SAMPLE_TOKEN)
    project = client.post("/projects", json_body={"name": "sample"}).json()
    assert new_agent(client, project["id"], "sample-agent") == 1
    expected = [
        ("ListUrlConfigurations", 200),
        ("CreateUrlConfiguration", 201),
        ("GetUrlConfiguration", 200),
        ("ListUrlConfigurations", 200),
        ("DeleteUrlConfiguration", 204),
    ]
    seen = []
    for name, status in expected:
        event = EventRun(values={"CreateAgent.id": "1", "CreateUrlConfiguration.id": "1"}).render(
            EVENTS / f"{name}.json"
        )
        assert match_route(event["httpMethod"], event["path"])[0].logical_id == "UrlConfigurationsFunction"
        result = url_configurations_app.lambda_handler(event, LambdaContext("UrlConfigurationsFunction"))
        assert result["statusCode"] == status, (name, result.get("body"))
        seen.append(json.loads(result["body"]) if result.get("body") else None)
    created = seen[1]
    assert (created["id"], created["agent_id"], created["tls_host"]) == (1, 1, "agent.example.com")
    assert seen[0] == [] and seen[2] == created and seen[3] == [created] and seen[4] is None
    assert {path.stem for path in EVENTS.glob("*.json")} == {name for name, _ in expected}
