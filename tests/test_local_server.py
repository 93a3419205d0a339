"""The local API server (devtools.local_api) over real HTTP: the API Gateway REST events it makes,
its routing and gateway answers, worker processes that race like Lambda containers, and
surviving handlers that crash, die or run over their time.

The functions are a throwaway fixture (tests/fixtures/local_server/) in a copy of template.yaml;
storage is the template's real tables and keys in an embedded moto."""

from __future__ import annotations

import base64
import copy
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.local_api import ConfigError, LocalApi
from devtools.template import load_template

# Keep the module on one xdist worker: it shares one server (the marker exists only with xdist).
pytestmark = pytest.mark.xdist_group("local_server")

ROOT = Path(__file__).resolve().parent.parent
KAS_SECRET = base64.b64encode(b"s" * 32).decode()
WORKERS = 4


def _api(path: str, method: str = "GET") -> dict[str, Any]:
    return {"Type": "Api", "Properties": {"Path": f"/api/v4{path}", "Method": method}}


def fixture_template() -> dict[str, Any]:
    """template.yaml with its functions replaced by the fixture functions."""
    template = copy.deepcopy(load_template())
    template["Resources"] = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] != "AWS::Serverless::Function"
    }
    code = {"CodeUri": "tests/fixtures/local_server/"}
    template["Resources"]["FixtureFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            **code,
            "Handler": "local_server_app.handle",
            "Events": {
                "GetAgent": _api("/projects/{id}/cluster_agents/{agent_id}"),
                "GetSpecial": _api("/projects/{id}/cluster_agents/special"),
                "CreateAgent": _api("/projects/{id}/cluster_agents", "POST"),
                "Pid": _api("/pid"),
                "Crash": _api("/crash"),
                "Response": _api("/response"),
                "Storage": _api("/storage"),
            },
        },
    }
    template["Resources"]["SlowFunction"] = {
        "Type": "AWS::Serverless::Function",
        "Properties": {**code, "Handler": "local_server_app.slow", "Timeout": 1, "Events": {"Slow": _api("/slow")}},
    }
    return template


@pytest.fixture(scope="module")
def local_api() -> Any:
    overrides = {"KAS_SECRET": KAS_SECRET, "AWS_ENDPOINT_URL": "", "LOCAL_SERVER_TEST_VARIABLE": "from-overrides"}
    with LocalApi(workers=WORKERS, template=fixture_template(), seed=False, env_overrides=overrides) as api:
        yield api


def raw_request(
    api: LocalApi, method: str, target: str, headers: list[tuple[str, str]] = (), body: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request exactly as written (repeated headers, encoded paths), on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=15)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        if body is not None:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def echo(api: LocalApi, method: str, target: str, **kwargs: Any) -> dict[str, Any]:
    status, _, body = raw_request(api, method, target, **kwargs)
    assert status == 200, body
    return json.loads(body)


def test_entry_point_urls(local_api: LocalApi) -> None:
    assert local_api.port > 0
    assert local_api.base_url == f"http://127.0.0.1:{local_api.port}/api/v4"
    assert local_api.kas_secret == KAS_SECRET
    assert len(local_api.worker_pids()) == WORKERS


def test_event_keeps_the_path_encoded_and_decodes_the_query(local_api: LocalApi) -> None:
    target = "/api/v4/projects/root%2Ftest/cluster_agents/7?a=1&a=2&b=x%20y&c="
    headers = [("X-Multi", "one"), ("X-Multi", "two"), ("User-Agent", "local-server-test")]
    reply = echo(local_api, "GET", target, headers=headers)
    event, context = reply["event"], reply["context"]

    assert event["resource"] == "/api/v4/projects/{id}/cluster_agents/{agent_id}"
    assert event["path"] == "/api/v4/projects/root%2Ftest/cluster_agents/7"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "root%2Ftest", "agent_id": "7"}
    assert event["queryStringParameters"] == {"a": "2", "b": "x y", "c": ""}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"], "c": [""]}
    assert event["headers"]["X-Multi"] == "two"
    assert event["multiValueHeaders"]["X-Multi"] == ["one", "two"]
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Forwarded-Port"] == str(local_api.port)
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    assert event["stageVariables"] is None

    request_context = event["requestContext"]
    assert request_context["resourcePath"] == event["resource"]
    assert request_context["path"] == event["path"]
    assert request_context["httpMethod"] == "GET"
    assert request_context["stage"] == "local"
    assert request_context["domainName"] == f"127.0.0.1:{local_api.port}"
    assert request_context["identity"]["sourceIp"] == "127.0.0.1"
    assert request_context["identity"]["userAgent"] == "local-server-test"
    assert uuid.UUID(request_context["requestId"])
    assert abs(request_context["requestTimeEpoch"] / 1000 - time.time()) < 60

    assert context["function_name"] == "FixtureFunction"
    assert context["memory_limit_in_mb"] == 512  # the template's Globals
    assert 0 < context["remaining_ms"] <= 10_000


def test_literal_segments_beat_parameters(local_api: LocalApi) -> None:
    event = echo(local_api, "GET", "/api/v4/projects/5/cluster_agents/special")["event"]
    assert event["resource"] == "/api/v4/projects/{id}/cluster_agents/special"
    assert event["pathParameters"] == {"id": "5"}


def test_text_and_binary_bodies(local_api: LocalApi) -> None:
    text = echo(local_api, "POST", "/api/v4/projects/5/cluster_agents", body=b'{"name": "agent-1"}')["event"]
    assert text["body"] == '{"name": "agent-1"}'
    assert text["isBase64Encoded"] is False
    assert text["queryStringParameters"] is None
    assert text["multiValueQueryStringParameters"] is None

    binary = echo(local_api, "POST", "/api/v4/projects/5/cluster_agents", body=b"\xff\x00\xfe")["event"]
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\x00\xfe"


@pytest.mark.parametrize(
    ("method", "target"),
    [
        ("GET", "/api/v4/nope"),
        ("DELETE", "/api/v4/projects/5/cluster_agents/7"),  # the path exists, the method does not
        ("GET", "/api/v4/projects//cluster_agents/7"),  # a parameter needs a non-empty segment
        ("GET", "/api/v4/projects/5/cluster_agents/7/more"),
    ],
)
def test_no_route_is_the_gateway_404(local_api: LocalApi, method: str, target: str) -> None:
    status, headers, body = raw_request(local_api, method, target)
    assert status == 404
    assert body == b'{"error":"404 Not Found"}'
    assert headers["Content-Type"] == "application/json"


def test_the_handler_result_is_the_response(local_api: LocalApi) -> None:
    status, headers, body = raw_request(local_api, "GET", "/api/v4/response")
    assert status == 201
    assert body == b"\x00\xffbinary"
    assert headers.get_all("Set-Cookie") == ["a=1", "b=2"]
    assert headers["X-Single"] == "one"
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Content-Length"] == str(len(body))


def test_head_is_served_like_get_without_a_body(local_api: LocalApi) -> None:
    status, headers, body = raw_request(local_api, "HEAD", "/api/v4/response")
    assert status == 201
    assert body == b""
    assert headers["Content-Length"] == str(len(b"\x00\xffbinary"))


def test_bodies_over_10_mb_are_refused(local_api: LocalApi) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_api.port, timeout=15)
    try:
        connection.putrequest("POST", "/api/v4/projects/5/cluster_agents")
        connection.putheader("Content-Length", str(10 * 1024 * 1024 + 1))
        connection.endheaders()  # the body never comes: the gateway answers from the headers
        assert connection.getresponse().status == 413
    finally:
        connection.close()


def exchange(api: LocalApi, data: bytes, send_after_first_line: bytes = b"") -> bytes:
    """Bytes written on a fresh connection as they are, and everything read until the server
    closes it (the last request asks for that); ``send_after_first_line`` goes out once the
    server has answered a first line (100 Continue)."""
    with socket.create_connection(("127.0.0.1", api.port), timeout=15) as sock:
        sock.sendall(data)
        received = b""
        if send_after_first_line:
            while b"\r\n\r\n" not in received:
                received += sock.recv(65536)
            sock.sendall(send_after_first_line)
        while chunk := sock.recv(65536):
            received += chunk
        return received


def test_chunked_bodies_reach_the_handler(local_api: LocalApi) -> None:
    request = (
        b"POST /api/v4/projects/5/cluster_agents HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n"
        b'Connection: close\r\n\r\n9\r\n{"name": \r\na;ext=1\r\n"agent-1"}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    head, _, body = exchange(local_api, request).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    event = json.loads(body)["event"]
    assert event["body"] == '{"name": "agent-1"}'
    assert "Transfer-Encoding" in event["headers"]


def test_chunked_bodies_over_10_mb_are_refused(local_api: LocalApi) -> None:
    megabyte = b"%x\r\n%s\r\n" % (1024 * 1024, b"x" * 1024 * 1024)
    request = b"POST /api/v4/projects/5/cluster_agents HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\n"
    reply = exchange(local_api, request + megabyte * 10 + b"1\r\nx")  # one byte over, never finished
    assert reply.startswith(b"HTTP/1.1 413 ")
    assert reply.endswith(b'{"message":"413 Request Entity Too Large"}')
    assert b"\r\nConnection: close\r\n" in reply


def test_expect_100_continue(local_api: LocalApi) -> None:
    body = b'{"name": "agent-1"}'
    head = (
        b"POST /api/v4/projects/5/cluster_agents HTTP/1.1\r\nHost: local\r\nExpect: 100-continue\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    reply = exchange(local_api, head, send_after_first_line=body)
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
    assert json.loads(reply.partition(b"\r\n\r\n")[2].partition(b"\r\n\r\n")[2])["event"]["body"] == body.decode()


def test_pipelined_requests_are_answered_in_order(local_api: LocalApi) -> None:
    first = b"GET /api/v4/projects/a%2Fb/cluster_agents/special HTTP/1.1\r\nHost: local\r\n\r\n"
    second = b"GET /api/v4/projects/c%2Fd/cluster_agents/7 HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n"
    reply = exchange(local_api, first + second)
    assert reply.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert reply.index(b'"pathParameters": {"id": "a%2Fb"}') < reply.index(b'"pathParameters": {"id": "c%2Fd"')


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"NOT A REQUEST\r\n\r\n",
        b"POST /api/v4/projects/5/cluster_agents HTTP/1.1\r\nHost: local\r\nContent-Length: x\r\n\r\n",
        b"POST /api/v4/projects/5/cluster_agents HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
)
def test_malformed_requests_are_a_400(local_api: LocalApi, request_bytes: bytes) -> None:
    reply = exchange(local_api, request_bytes)
    assert reply.startswith(b"HTTP/1.1 400 ")
    assert reply.endswith(b'{"message": "Bad Request"}')


def test_keep_alive(local_api: LocalApi) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", local_api.port, timeout=15)
    try:
        sockets = []
        for _ in range(3):
            connection.request("GET", "/api/v4/pid")
            assert connection.getresponse().read()
            sockets.append(connection.sock)
        assert sockets[0] is not None
        assert all(sock is sockets[0] for sock in sockets)
    finally:
        connection.close()
    with requests.Session() as session:
        assert all(session.get(f"{local_api.base_url}/pid").ok for _ in range(3))


def test_concurrent_requests_run_in_different_worker_processes(local_api: LocalApi) -> None:
    def pid() -> int:
        return requests.get(f"{local_api.base_url}/pid", params={"sleep": "0.6"}, timeout=15).json()["pid"]

    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        pids = list(pool.map(lambda _: pid(), range(WORKERS)))
    elapsed = time.monotonic() - started

    assert len(set(pids)) >= 2
    assert os.getpid() not in pids
    assert set(pids) <= set(local_api.worker_pids())
    assert elapsed < 0.6 * WORKERS * 0.8  # they overlapped rather than queued


def test_storage_and_environment_reach_the_functions(local_api: LocalApi) -> None:
    reply = requests.get(f"{local_api.base_url}/storage", timeout=15).json()
    assert reply["table_status"] == "ACTIVE"
    assert reply["endpoint"].startswith("http://127.0.0.1:")
    assert reply["kas_secret"] == KAS_SECRET
    assert reply["custom"] == "from-overrides"


def _wait_for_workers(api: LocalApi, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(api.worker_pids()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(api.worker_pids()) == count


@pytest.mark.parametrize("mode", ["raise", "malformed", "exit"])
def test_a_failing_handler_is_a_502_and_the_server_goes_on(local_api: LocalApi, mode: str) -> None:
    status, headers, body = raw_request(local_api, "GET", f"/api/v4/crash?mode={mode}")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert headers["Content-Type"] == "application/json"

    _wait_for_workers(local_api, WORKERS)  # a dead worker is replaced
    for _ in range(WORKERS + 1):
        assert requests.get(f"{local_api.base_url}/pid", timeout=15).status_code == 200


def test_a_handler_over_its_timeout_is_stopped(local_api: LocalApi) -> None:
    started = time.monotonic()
    status, _, body = raw_request(local_api, "GET", "/api/v4/slow")
    assert status == 502
    assert json.loads(body) == {"message": "Internal server error"}
    assert time.monotonic() - started < 4  # the function's Timeout is 1 s; it sleeps 5
    _wait_for_workers(local_api, WORKERS)
    assert requests.get(f"{local_api.base_url}/pid", timeout=15).status_code == 200


def test_bad_kas_secret_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="KAS_SECRET"):
        LocalApi(env_overrides={"KAS_SECRET": "not base64!"}).start()


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "devtools.local_api", *args]
    return subprocess.run(
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60
    )


def test_command_line_configuration_errors_are_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        results = [
            _serve("--port", port),
            _serve("--port", "0", env={"KAS_SECRET": "not base64!"}),
            _serve("--port", "0", "--workers", "0"),
            _serve("--port", "0", env={"AWS_ENDPOINT_URL": "http://127.0.0.1:1"}),  # nothing listens there
        ]
    for result in results:
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "Traceback" not in result.stderr
