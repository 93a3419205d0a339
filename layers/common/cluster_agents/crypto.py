"""Secrets: generated from a cryptographic source, stored only as a keyed digest (tokens) or
encrypted under a KMS envelope key (private material).

The digest key is derived from AWS KMS once per container (GenerateMac of a fixed label with
an HMAC_256 key that never leaves KMS) and kept in memory, so a warm request makes no KMS call.
The envelope key is a KMS data key, generated once per container; its encrypted copy is stored
beside every ciphertext, so any container can decrypt with one (cached) KMS Decrypt. KMS binds the
data key to ``DATA_KEY_CONTEXT`` (its EncryptionContext): GenerateDataKey and every Decrypt name
it, so CloudTrail shows what each Decrypt was for, the key policy or IAM can allow exactly that
purpose, and a data key made for anything else does not decrypt here (nor this one elsewhere)."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from cluster_agents.aws import busy_on_transient_errors, client
from cluster_agents.settings import get_settings

DIGEST_LABEL = b"cluster-agents-api/token-digest/v1"
DATA_KEY_CONTEXT = {"purpose": "url-configuration-private-key"}  # the KMS EncryptionContext of data keys
ENVELOPE_VERSION = "v2"  # v2: the data key is bound to DATA_KEY_CONTEXT; v1 (read only): to nothing
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def random_token(prefix: str, length: int) -> str:
    """``prefix`` + ``length`` characters of [A-Za-z0-9_-], each drawn from the OS CSPRNG."""
    return prefix + "".join(secrets.choice(_URLSAFE) for _ in range(length))


@functools.cache
def _digest_key() -> bytes:
    with busy_on_transient_errors():
        response = client("kms").generate_mac(
            KeyId=get_settings().token_digest_key_id, Message=DIGEST_LABEL, MacAlgorithm="HMAC_SHA_256"
        )
    return response["Mac"]


def digest(token: str) -> str:
    """The keyed digest under which a token is stored and looked up (hex HMAC-SHA256)."""
    return hmac.new(_digest_key(), token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class _DataKey:
    plaintext: bytes
    encrypted: bytes


@functools.cache
def _current_data_key() -> _DataKey:
    with busy_on_transient_errors():
        response = client("kms").generate_data_key(
            KeyId=get_settings().data_key_id, KeySpec="AES_256", EncryptionContext=DATA_KEY_CONTEXT
        )
    return _DataKey(response["Plaintext"], response["CiphertextBlob"])


# One entry per container that ever sealed something (each generates its own data key): the
# agent server's receptive list reads them all in a cycle, which an LRU smaller than their number
# would miss every time. 4096 entries are about a megabyte.
@functools.lru_cache(maxsize=4096)
def _decrypt_data_key(encrypted: bytes, bound: bool = True) -> bytes:
    context = {"EncryptionContext": DATA_KEY_CONTEXT} if bound else {}
    with busy_on_transient_errors():
        return client("kms").decrypt(CiphertextBlob=encrypted, KeyId=get_settings().data_key_id, **context)["Plaintext"]


def encrypt(plaintext: bytes, context: str) -> str:
    """AES-256-GCM under the container's KMS data key; ``context`` is bound as associated data.

    Returns ``v2.<b64 encrypted data key>.<b64 nonce>.<b64 ciphertext>``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _current_data_key()
    nonce = os.urandom(12)
    sealed = AESGCM(key.plaintext).encrypt(nonce, plaintext, context.encode("utf-8"))
    parts = (key.encrypted, nonce, sealed)
    return f"{ENVELOPE_VERSION}." + ".".join(base64.b64encode(part).decode("ascii") for part in parts)


def decrypt(envelope: str, context: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version, *parts = envelope.split(".")
    if version not in (ENVELOPE_VERSION, "v1") or len(parts) != 3:
        raise ValueError("unknown envelope format")
    encrypted_key, nonce, sealed = (base64.b64decode(part) for part in parts)
    data_key = _decrypt_data_key(encrypted_key, bound=version == ENVELOPE_VERSION)
    return AESGCM(data_key).decrypt(nonce, sealed, context.encode("utf-8"))


def reset_keys() -> None:
    """Forget derived keys (tests that switch KMS backends)."""
    _digest_key.cache_clear()
    _current_data_key.cache_clear()
    _decrypt_data_key.cache_clear()
