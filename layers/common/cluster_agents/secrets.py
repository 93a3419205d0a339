"""Secrets: generated from a cryptographic source, stored only as a keyed digest (tokens) or
encrypted under a KMS envelope key (private material).

The digest key is derived from AWS KMS once per container (GenerateMac of a fixed label with
an HMAC_256 key that never leaves KMS) and kept in memory, so a warm request makes no KMS call.
The envelope key is a KMS data key, generated once per container; its encrypted copy is stored
beside every ciphertext, so any container can decrypt with one (cached) KMS Decrypt."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import secrets as _random
from dataclasses import dataclass

from cluster_agents.aws import busy_on_transient_errors, client
from cluster_agents.settings import get_settings

DIGEST_LABEL = b"cluster-agents-api/token-digest/v1"
_URLSAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def random_token(prefix: str, length: int) -> str:
    """``prefix`` + ``length`` characters of [A-Za-z0-9_-], each drawn from the OS CSPRNG."""
    return prefix + "".join(_random.choice(_URLSAFE) for _ in range(length))


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
        response = client("kms").generate_data_key(KeyId=get_settings().data_key_id, KeySpec="AES_256")
    return _DataKey(response["Plaintext"], response["CiphertextBlob"])


# One entry per container that ever sealed something (each generates its own data key): the
# agent server's receptive list reads them all in a cycle, which an LRU smaller than their number
# would miss every time. 4096 entries are about a megabyte.
@functools.lru_cache(maxsize=4096)
def _decrypt_data_key(encrypted: bytes) -> bytes:
    with busy_on_transient_errors():
        return client("kms").decrypt(CiphertextBlob=encrypted, KeyId=get_settings().data_key_id)["Plaintext"]


def encrypt(plaintext: bytes, context: str) -> str:
    """AES-256-GCM under the container's KMS data key; ``context`` is bound as associated data.

    Returns ``v1.<b64 encrypted data key>.<b64 nonce>.<b64 ciphertext>``."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = _current_data_key()
    nonce = os.urandom(12)
    sealed = AESGCM(key.plaintext).encrypt(nonce, plaintext, context.encode("utf-8"))
    parts = (key.encrypted, nonce, sealed)
    return "v1." + ".".join(base64.b64encode(part).decode("ascii") for part in parts)


def decrypt(envelope: str, context: str) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version, *parts = envelope.split(".")
    if version != "v1" or len(parts) != 3:
        raise ValueError("unknown envelope format")
    encrypted_key, nonce, sealed = (base64.b64decode(part) for part in parts)
    return AESGCM(_decrypt_data_key(encrypted_key)).decrypt(nonce, sealed, context.encode("utf-8"))


def reset_keys() -> None:
    """Forget derived keys (tests that switch KMS backends)."""
    _digest_key.cache_clear()
    _current_data_key.cache_clear()
    _decrypt_data_key.cache_clear()
