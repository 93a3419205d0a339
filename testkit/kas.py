"""What the agent server (KAS) sends: a request JWT signed with the secret it shares with the API,
and an agent's token beside it. The tests' secret is ``KAS_SECRET``; the bench passes its own."""

from __future__ import annotations

import base64
import time
from typing import Any

KAS_SECRET = base64.b64encode(b"k" * 32).decode()  # as the KAS_SECRET environment variable holds it
KAS_KEY = base64.b64decode(KAS_SECRET)


def kas_jwt(secret: bytes = KAS_KEY, algorithm: str = "HS256", **claims: Any) -> str:
    """A request JWT as KAS signs it (valid 5 s, not before 5 s ago); ``claims`` override or, when
    None, drop a claim."""
    import jwt

    now = int(time.time())
    payload = {"iss": "gitlab-kas", "aud": "gitlab", "exp": now + 5, "iat": now, "nbf": now - 5, **claims}
    return jwt.encode({key: value for key, value in payload.items() if value is not None}, secret, algorithm=algorithm)


def kas_headers(
    agent_token: str | None = None, header: str = "Authorization", secret: bytes = KAS_KEY
) -> dict[str, str]:
    """A KAS request, for an agent when ``agent_token`` is given (as a bearer token in
    Authorization, or as it is in ``header``)."""
    headers = {"Gitlab-Kas-Api-Request": kas_jwt(secret)}
    if agent_token is not None:
        headers[header] = f"Bearer {agent_token}" if header == "Authorization" else agent_token
    return headers
