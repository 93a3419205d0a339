"""Receptive agents' URL configurations (SPEC §4): the record, GitLab's validations and the two
ways GitLab authenticates to the agent.

Mirrors ``Clusters::Agents::UrlConfiguration`` and ``CreateUrlConfigurationService``:
- certificates and keys arrive base64-encoded and are decoded as Ruby's ``Base64.decode64``
  does (never an error: characters outside the alphabet are skipped);
- with a ``client_key`` (any string, even an empty one): mTLS, ``client_cert`` and
  ``client_key`` must be valid PEM;
- without: an Ed25519 key pair is generated (``public_key`` = the 32 raw public bytes) and a
  given ``client_cert`` is ignored;
- blank ``ca_cert``/``tls_host``/``client_*`` count as absent (``nullify_if_blank``);
- every failing validation is reported, in the model's declaration order: url, ca_cert,
  tls_host, client_cert, client_key.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from cluster_agents.errors import ValidationFailed

# Not GitLab's (its columns are unbounded): one DynamoDB item holds a configuration (400 KB at
# most), so oversized values are refused with Rails' length message rather than failing the write.
MAX_URL = 2048
MAX_TLS_HOST = 255
MAX_CA_CERT = 192 * 1024
MAX_CLIENT_CERT = 64 * 1024
MAX_CLIENT_KEY = 16 * 1024
MAX_RSA_BITS = 8192  # the largest RSA client key accepted (SPEC §4)

URL_SCHEMES = ("grpc", "grpcs")

_NOT_BASE64 = re.compile(r"[^A-Za-z0-9+/=]")
_PCT = r"%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB_DELIMS = r"A-Za-z0-9\-._~!$&'()*+,;="
_REG_NAME = rf"(?:[{_UNRESERVED_SUB_DELIMS}]|{_PCT})+"
_IP_LITERAL = r"\[[0-9A-Fa-f:.]+\]"
_HOST = re.compile(rf"\A(?:{_IP_LITERAL}|{_REG_NAME})\Z")
_URL = re.compile(
    rf"""\A(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://
    (?:(?:[{_UNRESERVED_SUB_DELIMS}:]|{_PCT})*@)?
    (?P<host>{_IP_LITERAL}|{_REG_NAME})
    (?::[0-9]*)?
    (?:/(?:[{_UNRESERVED_SUB_DELIMS}:@]|{_PCT})*)*
    (?:\?(?:[{_UNRESERVED_SUB_DELIMS}:@/?]|{_PCT})*)?
    (?:\#(?:[{_UNRESERVED_SUB_DELIMS}:@/?]|{_PCT})*)?\Z""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class UrlConfiguration:
    """A stored URL configuration (what the API shows; the private material is kept apart)."""

    id: int
    agent_id: int
    project_id: int
    url: str
    public_key: bytes | None  # JWT authentication: the 32 raw Ed25519 public-key bytes
    client_cert: bytes | None  # mTLS: the client certificate, PEM
    ca_cert: bytes | None
    tls_host: str | None
    created_by_user_id: int
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class UrlConfigurationRequest:
    """What the caller sent (certificates and key still base64-encoded, as on the wire)."""

    url: str
    client_cert: str | None = None
    client_key: str | None = None
    ca_cert: str | None = None
    tls_host: str | None = None


PrivateKind = Literal["private_key", "client_key"]


@dataclass(frozen=True)
class UrlConfigurationDraft:
    """A validated configuration about to be stored, with its private material
    (``private_key``: the generated Ed25519 key's 32 raw bytes; ``client_key``: the given PEM).
    ``repr`` never shows the private material."""

    url: str
    public_key: bytes | None
    client_cert: bytes | None
    ca_cert: bytes | None
    tls_host: str | None
    private_kind: PrivateKind
    private_material: bytes

    def __repr__(self) -> str:
        return f"UrlConfigurationDraft(url={self.url!r}, auth={'jwt' if self.public_key else 'mtls'})"


@dataclass(frozen=True)
class ReceptiveAgent:
    """What the agent server needs to reach one receptive agent (SPEC §7.3), private material
    decrypted: ``private_key`` (the 32-byte Ed25519 seed) for JWT configurations, ``client_key``
    and ``client_cert`` (PEM) for mTLS ones. ``repr`` never shows the private material."""

    agent_id: int
    url: str
    ca_cert: bytes | None
    tls_host: str | None
    private_key: bytes | None
    client_key: bytes | None
    client_cert: bytes | None

    def __repr__(self) -> str:
        auth = "jwt" if self.private_key else "mtls"
        return f"ReceptiveAgent(agent_id={self.agent_id}, url={self.url!r}, auth={auth})"


def decode_base64_leniently(text: str) -> bytes:
    """Ruby's ``Base64.decode64``: characters outside the alphabet (line breaks, spaces) are
    skipped, a ``=`` inside the second half of a group ends the input, and an incomplete last
    group is decoded as far as it goes. It never fails."""
    kept = ""
    for part in _NOT_BASE64.sub("", text).split("="):
        kept += part
        if len(kept) % 4 >= 2:  # the '=' that follows stands for a missing 3rd or 4th symbol
            break
    usable = len(kept) - (1 if len(kept) % 4 == 1 else 0)
    chunk = kept[:usable]
    return base64.b64decode(chunk + "=" * (-len(chunk) % 4))


def _blank(value: bytes | str | None) -> bool:
    return value is None or not value.strip()


def valid_url(url: str) -> bool:
    """``validates :url, url: { schemes: %w[grpc grpcs] }`` (the validate_url gem): an absolute
    grpc(s) URL with a host. The scheme is matched as written - ``URI.regexp([scheme])`` is
    case-sensitive - so ``GRPCS://`` is refused as GitLab refuses it."""
    match = _URL.match(url)
    if not match or match["scheme"] not in URL_SCHEMES:
        return False
    return _valid_host(match["host"])


def _valid_host(host: str) -> bool:
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
    return True


def valid_tls_host(host: str) -> bool:
    """``HostValidator``: ``URI.parse("http://#{host}").host == host`` - a bare host name or IP
    address, no scheme, port, user or path."""
    return bool(_HOST.match(host)) and _valid_host(host)


def valid_certificate_pem(data: bytes) -> bool:
    from cryptography import x509

    try:
        x509.load_pem_x509_certificate(data)
    except ValueError:
        return False
    return True


def valid_private_key_pem(data: bytes) -> bool:
    """A PEM private key KAS can use for TLS, read as GitLab reads it (OpenSSL's PEM reader):
    without the RSA consistency check (primality of the primes, the CRT values), which costs
    seconds of CPU for a large key. RSA above ``MAX_RSA_BITS`` bits, DSA and DH keys are refused
    (SPEC §4: no request may cost more than a few hundred ms, whatever the key)."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dh, dsa, rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return False
    if isinstance(key, rsa.RSAPrivateKey):
        return key.key_size <= MAX_RSA_BITS
    return not isinstance(key, dsa.DSAPrivateKey | dh.DHPrivateKey)


def _too_long(attribute: str, limit: int) -> str:
    return f"{attribute} is too long (maximum is {limit} characters)"


def _check_certificate(attribute: str, data: bytes, limit: int) -> str | None:
    if len(data) > limit:
        return _too_long(attribute, limit)
    return None if valid_certificate_pem(data) else f"{attribute} must be a valid PEM certificate"


def generate_key_pair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 key pair: (32 raw private bytes, 32 raw public bytes)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, public


def prepare_url_configuration(request: UrlConfigurationRequest) -> UrlConfigurationDraft:
    """Validate a request and choose its authentication; raises ValidationFailed listing every
    problem (``["Url is not a valid URL", "Tls host must be a valid hostname!"]``)."""
    problems: list[str] = []

    if len(request.url) > MAX_URL:
        problems.append(_too_long("Url", MAX_URL))
    elif not valid_url(request.url):
        problems.append("Url is not a valid URL")

    ca_cert = None if request.ca_cert is None else decode_base64_leniently(request.ca_cert)
    ca_cert = None if _blank(ca_cert) else ca_cert
    if ca_cert is not None and (problem := _check_certificate("Ca cert", ca_cert, MAX_CA_CERT)):
        problems.append(problem)

    tls_host = None if _blank(request.tls_host) else request.tls_host
    if tls_host is not None:
        if len(tls_host) > MAX_TLS_HOST:
            problems.append(_too_long("Tls host", MAX_TLS_HOST))
        elif not valid_tls_host(tls_host):
            problems.append("Tls host must be a valid hostname!")

    public_key = client_cert = None
    if request.client_key is not None:  # mTLS: GitLab tests `if params[:client_key]`
        private_kind: PrivateKind = "client_key"
        client_cert = None if request.client_cert is None else decode_base64_leniently(request.client_cert)
        client_cert = None if _blank(client_cert) else client_cert
        client_key = decode_base64_leniently(request.client_key)
        if client_cert is None:
            problems.append("Client cert must be a valid PEM certificate")
        elif problem := _check_certificate("Client cert", client_cert, MAX_CLIENT_CERT):
            problems.append(problem)
        if len(client_key) > MAX_CLIENT_KEY:
            problems.append(_too_long("Client key", MAX_CLIENT_KEY))
        elif _blank(client_key) or not valid_private_key_pem(client_key):
            problems.append("Client key must be a valid PEM private key")
        private_material = client_key
    else:
        private_kind = "private_key"
        private_material = b""

    if problems:
        raise ValidationFailed(problems)
    if private_kind == "private_key":
        private_material, public_key = generate_key_pair()
    return UrlConfigurationDraft(
        url=request.url,
        public_key=public_key,
        client_cert=client_cert,
        ca_cert=ca_cert,
        tls_host=tls_host,
        private_kind=private_kind,
        private_material=private_material,
    )
