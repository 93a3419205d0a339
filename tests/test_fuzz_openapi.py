"""Schema-driven fuzzing: schemathesis generates requests for every operation of the project's own
OpenAPI description (docs/openapi.json, ``python -m devtools.openapi``) - valid ones and, in its
negative mode, wrong types, missing fields, odd encodings, bytes that are not UTF-8 - and sends
them to a local API of their own (make serve's server: worker processes over a moto server,
seeded with a project, an agent, a token, a URL configuration and a running job).

Every answer must be: never a 5xx, JSON (but a 204, and the docs page and its assets), and every 4xx in
GitLab's error shape ``{"message": ...}`` / ``{"error": ...}``. Credentials are valid (root's
token; for the agent server a fresh JWT and the agent's token; for the job routes the job's token),
so the runs get past authentication; the authorization matrix covers the credentials themselves.

Bounded: ``FUZZ_EXAMPLES`` examples per operation and mode (default 15, two modes), about two
thousand requests, a couple of minutes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from testkit.kas import kas_headers
from tests.conftest import KAS_SECRET

# Its own local API: pinned to one xdist worker (the marker exists only with xdist).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("fuzz")]

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))
FUZZ_ROOT_TOKEN = "glpat-fuzz-root-token-00001"
HTML = {("GET", "/api/v4/docs"), ("GET", "/api/v4/docs/assets/{file}")}  # succeed with HTML, JavaScript, CSS


def _operations() -> list[Any]:
    import schemathesis

    schema = schemathesis.openapi.from_path(OPENAPI)
    return [result.ok() for result in schema.get_all_operations()]


OPERATIONS = _operations()


@pytest.fixture(scope="module")
def target():
    """A local API of the fuzz run's own (what it creates and deletes touches no other test)."""
    from devtools.local_api import LocalApi

    with LocalApi(
        port=0, workers=2, seed=True, env_overrides={"ROOT_TOKEN": FUZZ_ROOT_TOKEN, "KAS_SECRET": KAS_SECRET}
    ) as server:
        session = requests.Session()
        session.headers["PRIVATE-TOKEN"] = FUZZ_ROOT_TOKEN
        api = server.base_url

        def made(response: requests.Response) -> dict:
            assert response.status_code == 201, response.text
            return response.json()

        project = made(session.post(f"{api}/projects", json={"name": "fuzzed"}))
        agent = made(session.post(f"{api}/projects/{project['id']}/cluster_agents", json={"name": "fuzzed"}))
        token = made(
            session.post(f"{api}/projects/{project['id']}/cluster_agents/{agent['id']}/tokens", json={"name": "fuzzed"})
        )
        made(
            session.post(
                f"{api}/projects/{project['id']}/cluster_agents/{agent['id']}/url_configurations",
                json={"url": "grpc://localhost:8080"},
            )
        )
        job = made(session.post(f"{api}/admin/ci/jobs", json={"project_id": project["id"], "user_id": 1}))
        yield server, token["token"], job["token"]


def _credentials(operation: Any, agent_token: str, job_token: str) -> dict[str, str]:
    path = operation.path
    if path.startswith("/api/v4/internal/"):
        return kas_headers(agent_token, header="Gitlab-Agentk-Api-Request")
    if path in ("/api/v4/job/allowed_agents", "/api/v4/jobs/{job_id}"):
        return {"JOB-TOKEN": job_token}
    return {"PRIVATE-TOKEN": FUZZ_ROOT_TOKEN}


def _content_type(response: Any) -> str:
    """The media type (schemathesis' Response keeps headers lower-cased, as lists)."""
    values = response.headers.get("content-type") or [""]
    return (values[0] if isinstance(values, list) else values).split(";")[0].strip()


def check(operation: Any, case: Any, response: Any) -> None:
    """No 5xx; JSON unless 204 (or the HTML page, or HEAD: never a body); a 4xx in GitLab's error shape."""
    reproduce = (
        f"{case.as_curl_command()}\n  headers={case.headers!r} query={case.query!r} body={case.body!r}"
        f"\n  answer: {response.status_code} {dict(response.headers)} {response.text[:200]!r}"
    )
    assert response.status_code < 500, f"{response.status_code} {response.text[:300]}\n{reproduce}"
    if operation.method.upper() == "HEAD":
        assert response.text == "", reproduce
        return
    if response.status_code == 204 or (
        response.status_code < 300 and (operation.method.upper(), operation.path) in HTML
    ):
        return
    assert _content_type(response) == "application/json", reproduce
    body = json.loads(response.text)
    if response.status_code >= 400:
        shaped = isinstance(body, dict) and (isinstance(body.get("message"), str) or isinstance(body.get("error"), str))
        assert shaped, f"{response.status_code} {body}\n{reproduce}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=[op.label for op in OPERATIONS])
def test_fuzz_operation(target, operation):
    from schemathesis import GenerationMode

    server, agent_token, job_token = target
    session = requests.Session()
    strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case):
        if (
            operation.path == "/api/v4/personal_access_tokens/{token_id}"
            and str(case.path_parameters.get("token_id")) == "1"
        ):
            reject()  # root's own token: revoking it would end the run's authentication
        try:
            response = case.call(
                base_url=server.url,
                session=session,
                timeout=60,
                headers=_credentials(operation, agent_token, job_token),
            )
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError, ValueError):
            reject()  # not a request an HTTP client can send
        check(operation, case, response)

    fuzz()
