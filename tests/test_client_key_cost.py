"""Client keys cost what GitLab's reading of them costs (SPEC §4): no RSA consistency
check (seconds of CPU for an 8192-bit key), RSA above 8192 bits, DSA and DH refused.

``fixtures/keys/rsa8192.pem`` is a throwaway 8192-bit RSA key made for this test (generating one
takes several seconds); it protects nothing."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest
from cluster_agents.domain.url_configurations import (
    UrlConfigurationRequest,
    prepare_url_configuration,
    valid_private_key_pem,
)
from cluster_agents.errors import ValidationFailed

from tests.test_url_configurations import b64

RSA_8192 = Path(__file__).resolve().parent / "fixtures" / "keys" / "rsa8192.pem"
CPU_BOUND = 0.25  # seconds: what no request may cost here (BENCHMARKS.md, worst-case CPU)
KEY_MESSAGE = "Client key must be a valid PEM private key"


def _pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificate_for(key) -> bytes:
    """A self-made certificate for ``key``'s public half, signed by a small EC key (cheap)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    signer = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitlab")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(signer, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def oversized_rsa_key(bits: int = 8200) -> bytes:
    """A parsable RSA private key above 8192 bits, made in milliseconds: its "primes" are random
    odd numbers, so it is inconsistent - the cheap way to get a key that size."""
    import secrets

    from cryptography.hazmat.primitives.asymmetric import rsa

    half = bits // 2
    p = secrets.randbits(half) | (1 << (half - 1)) | 1
    q = secrets.randbits(bits - half) | (1 << (bits - half - 1)) | 1
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=65537, dmp1=1, dmq1=1, iqmp=1, public_numbers=rsa.RSAPublicNumbers(65537, p * q)
    )
    return _pem(numbers.private_key(unsafe_skip_rsa_key_validation=True))


def dsa_key() -> bytes:
    from cryptography.hazmat.primitives.asymmetric import dsa

    return _pem(dsa.generate_private_key(1024))


def dh_key() -> bytes:
    """A DH key in RFC 3526's 2048-bit group (no parameter generation, which takes long)."""
    from cryptography.hazmat.primitives.asymmetric import dh

    p = int(
        "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
        "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
        "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
        "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
        "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
        "15728E5A8AACAA68FFFFFFFFFFFFFFFF",
        16,
    )
    return _pem(dh.DHParameterNumbers(p, 2).parameters().generate_private_key())


def _cpu_of(request: UrlConfigurationRequest) -> tuple[float, object]:
    started = time.process_time()
    try:
        outcome: object = prepare_url_configuration(request)
    except ValidationFailed as failed:
        outcome = failed
    return time.process_time() - started, outcome


def test_an_8192_bit_key_with_an_invalid_url_is_refused_cheaply():
    """The reported request: 4.6-5.0 s of CPU with the consistency check, a 400 all the same."""
    cpu, outcome = _cpu_of(
        UrlConfigurationRequest(url="not a url", client_cert=b64(b"junk"), client_key=b64(RSA_8192.read_bytes()))
    )
    assert isinstance(outcome, ValidationFailed)
    assert cpu < CPU_BOUND, f"{cpu:.2f} s of CPU"


def test_an_8192_bit_key_with_valid_fields_is_accepted_cheaply():
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = RSA_8192.read_bytes()
    certificate = _certificate_for(load_pem_private_key(pem, None, unsafe_skip_rsa_key_validation=True))
    cpu, outcome = _cpu_of(
        UrlConfigurationRequest(url="grpcs://agent.example.com", client_cert=b64(certificate), client_key=b64(pem))
    )
    assert not isinstance(outcome, ValidationFailed), outcome
    assert outcome.private_material == pem and outcome.client_cert == certificate  # type: ignore[attr-defined]
    assert cpu < CPU_BOUND, f"{cpu:.2f} s of CPU"


@pytest.mark.parametrize("make", [oversized_rsa_key, dsa_key, dh_key], ids=["rsa-8200", "dsa", "dh"])
def test_keys_kas_cannot_use_are_refused_with_every_other_problem(make):
    key = make()
    assert not valid_private_key_pem(key)
    cpu, outcome = _cpu_of(UrlConfigurationRequest(url="nope", client_cert=b64(b"junk"), client_key=b64(key)))
    assert isinstance(outcome, ValidationFailed)
    assert outcome.messages == ["Url is not a valid URL", "Client cert must be a valid PEM certificate", KEY_MESSAGE]
    assert cpu < CPU_BOUND


def test_the_largest_accepted_rsa_size_and_ordinary_keys_still_pass():
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    assert valid_private_key_pem(RSA_8192.read_bytes())
    assert valid_private_key_pem(_pem(ec.generate_private_key(ec.SECP384R1())))
    assert valid_private_key_pem(_pem(ed25519.Ed25519PrivateKey.generate()))


def test_the_key_route_answers_201_for_an_8192_bit_key(api, root_token):
    """Through the handler: the 201 GitLab gives, at a cost of a few hundred ms at most."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    pem = RSA_8192.read_bytes()
    certificate = _certificate_for(load_pem_private_key(pem, None, unsafe_skip_rsa_key_validation=True))
    project = api.post("/projects", json_body={"name": "keys"}).json()
    agent = api.post(f"/projects/{project['id']}/cluster_agents", json_body={"name": "receptive"}).json()
    base = f"/projects/{project['id']}/cluster_agents/{agent['id']}/url_configurations"
    started = time.process_time()
    response = api.post(
        base, json_body={"url": "grpcs://agent.example.com", "client_cert": b64(certificate), "client_key": b64(pem)}
    )
    cpu = time.process_time() - started
    assert response.status == 201, response.text
    assert response.json()["public_key"] is None
    assert cpu < 1.0, f"{cpu:.2f} s of CPU in the handler and moto together"
