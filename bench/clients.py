"""The API over HTTP: one keep-alive connection to the local API server (for latency). In
process, requests go through ``testkit.client.InProcess`` (for counting AWS calls)."""

from __future__ import annotations

import http.client

from testkit.client import Headers, Request, Response


class Http:
    """One keep-alive HTTP/1.1 connection to the local API."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._connection: http.client.HTTPConnection | None = None

    def send(self, request: Request) -> Response:
        raw_path, query = request.target()
        target = raw_path + (f"?{query}" if query else "")
        headers = dict(request.header_pairs())
        headers.pop("Host", None)
        for attempt in (1, 2):
            connection = self._connection or http.client.HTTPConnection(self.host, self.port, timeout=60)
            self._connection = connection
            try:
                connection.request(request.method, target, body=request.body(), headers=headers)
                answer = connection.getresponse()
                body = answer.read()
            except (ConnectionError, http.client.HTTPException):
                connection.close()
                self._connection = None
                if attempt == 2:
                    raise
                continue
            return Response(answer.status, Headers(answer.getheaders()), body)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
