"""The API's own description: ``GET /api/v4/openapi.json`` (generated from the routes by
``python -m devtools.openapi`` and packaged with this function) and ``GET /api/v4/docs``, a page
that browses it (Swagger UI from a CDN). No authentication, no data access."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import Response
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import create_app, entrypoint, respond
from cluster_agents.web.request import current

DOCUMENT = Path(__file__).with_name("openapi.json")
SWAGGER_UI = "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.17.14"
TAGS = ["docs"]

app = create_app()

_SCRIPT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true});
};"""
PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cluster Agents API</title>
  <link rel="stylesheet" href="{SWAGGER_UI}/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{SWAGGER_UI}/swagger-ui-bundle.js" crossorigin="anonymous"></script>
  <script>{_SCRIPT}</script>
</body>
</html>
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
PAGE_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src https://cdn.jsdelivr.net 'sha256-{_SCRIPT_HASH}'; "
        "style-src https://cdn.jsdelivr.net 'unsafe-inline'; img-src https://cdn.jsdelivr.net data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
}


@functools.cache
def _document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@app.get(
    "/api/v4/openapi.json",
    summary="This API's OpenAPI description",
    tags=TAGS,
    description="No authentication. `servers` is the base URL the request came in by.",
    responses=docs.responses(200, schema={"type": "object", "description": "An OpenAPI 3.1 document"}),
)
def handle_get_openapi():
    servers = [{"url": current().base_url(), "description": "This deployment"}]
    return respond({**_document(), "servers": servers})


@app.get(
    "/api/v4/docs",
    summary="Browse this API's description (Swagger UI)",
    tags=TAGS,
    description="No authentication. An HTML page; the browser loads Swagger UI from cdn.jsdelivr.net.",
    responses=docs.responses(200, media_type="text/html", schema={"type": "string"}),
)
def handle_get_docs():
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=PAGE, headers=PAGE_HEADERS)


lambda_handler = entrypoint(app)
