"""The agent server (KAS) and us: its shared secret and the JWT it signs every request with.

GitLab's ``Gitlab::Kas.verify_api_request``: header ``Gitlab-Kas-Api-Request``, HS256 only, issuer
``gitlab-kas``, audience ``gitlab``, signed with the raw secret bytes (configuration holds them
base64-encoded, like GitLab's ``.gitlab_kas_secret``). KAS makes each token valid for 5 seconds;
we also insist on an expiry, and on one no more than ``MAX_VALIDITY`` ahead, so that a token
that leaks (a log line) is worthless within a minute.

The secret is read once per container: from ``KAS_SECRET`` (local), else from Secrets Manager
(``KAS_SECRET_ARN``, one GetSecretValue on the first agent-server request)."""

from __future__ import annotations

import base64
import binascii
import functools
import time

from cluster_agents.aws import client
from cluster_agents.errors import StoreBusy
from cluster_agents.settings import get_settings

JWT_HEADER = "Gitlab-Kas-Api-Request"
JWT_ISSUER = "gitlab-kas"
JWT_AUDIENCE = "gitlab"
JWT_ALGORITHM = "HS256"
LEEWAY_SECONDS = 5  # clock skew between the agent server and us
MAX_VALIDITY_SECONDS = 60


class KasSecretMisconfigured(RuntimeError):
    """No secret, or not base64: a deployment error, not a request's."""


def decode_secret(text: str) -> bytes:
    """The raw secret from its base64 form (whitespace ignored, missing padding tolerated)."""
    compact = "".join(text.split())
    compact += "=" * (-len(compact) % 4)
    try:
        secret = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise KasSecretMisconfigured("the KAS secret is not base64") from None
    if not secret:
        raise KasSecretMisconfigured("the KAS secret is empty")
    return secret


@functools.cache
def shared_secret() -> bytes:
    settings = get_settings()
    text = settings.kas_secret
    if not text and settings.kas_secret_arn:
        from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

        try:
            text = client("secretsmanager").get_secret_value(SecretId=settings.kas_secret_arn)["SecretString"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ThrottlingException", "InternalServiceError", "RequestLimitExceeded"):
                raise StoreBusy(throttled=code != "InternalServiceError") from error
            raise
        except (ConnectionError, ReadTimeoutError) as error:
            raise StoreBusy() from error
    if not text:
        raise KasSecretMisconfigured("no KAS secret: set KAS_SECRET or KAS_SECRET_ARN")
    return decode_secret(text)


def verify_request_jwt(token: str | None) -> bool:
    """Whether ``token`` is a current request JWT of the agent server."""
    if not token:
        return False
    secret = shared_secret()
    import jwt  # deferred: only the agent server's requests need it

    try:
        claims = jwt.decode(
            token.strip(),
            secret,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iss", "aud"], "verify_iat": False},
        )
    except jwt.PyJWTError:
        return False
    return claims["exp"] <= time.time() + MAX_VALIDITY_SECONDS
