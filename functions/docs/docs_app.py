"""The API's own description: ``GET /api/v4/openapi.json`` (generated from the routes by
``python -m devtools.openapi`` and packaged with this function), ``GET /api/v4/docs``, a page that
browses it with Swagger UI, and ``GET /api/v4/docs/assets/{file}``, Swagger UI's script and style
sheet (npm's swagger-ui-dist, put beside this module by ``python -m devtools.swagger_ui``): the page
loads nothing from anywhere else, so it works without Internet access. No authentication, no data
access."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import Response
from cluster_agents import errors as e
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import create_app, entrypoint, respond
from cluster_agents.web.request import current

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

DOCUMENT = Path(__file__).with_name("openapi.json")
ASSETS = Path(__file__).with_name("swagger_ui")
#: The files of ASSETS the page loads, by name: nothing else is served (no path reaches another file).
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
}
#: An asset's URL carries the Swagger UI version (``?v=``), so a new version is a new URL.
ASSET_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}
ASSET_FILE = "A file of Swagger UI: `swagger-ui-bundle.js` or `swagger-ui.css`"
TAGS = ["docs"]

app = create_app()

_SCRIPT = """window.onload = function () {
  window.ui = SwaggerUIBundle({url: "openapi.json", dom_id: "#swagger-ui", deepLinking: true, validatorUrl: null});
};"""
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Cluster Agents API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="docs/assets/swagger-ui.css?v={version}">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js?v={version}"></script>
  <script>{script}</script>
</body>
</html>
"""
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
PAGE_HEADERS = {
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'self' 'sha256-{_SCRIPT_HASH}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}


@functools.cache
def _document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text(encoding="utf-8"))


@functools.cache
def _page() -> str:
    version_file = ASSETS / "VERSION"
    version = version_file.read_text(encoding="utf-8").strip() if version_file.is_file() else "missing"
    return _PAGE.replace("{version}", version).replace("{script}", _SCRIPT)


@functools.cache
def _asset(name: str) -> str | None:
    path = ASSETS / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _asset_responses() -> dict[int, OpenAPIResponse]:
    documented = docs.responses(200, docs.BODY, e.NotFound(), media_type="text/javascript", schema={"type": "string"})
    documented[200]["content"]["text/css"] = {"schema": {"type": "string"}}
    documented[200]["description"] = "The file: `swagger-ui-bundle.js` (JavaScript) or `swagger-ui.css` (CSS)"
    return documented


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
    description="No authentication. An HTML page; Swagger UI comes from this API (`/docs/assets/...`), "
    "so it needs no Internet access.",
    responses=docs.responses(200, media_type="text/html", schema={"type": "string"}),
)
def handle_get_docs():
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=_page(), headers=PAGE_HEADERS)


@app.get(
    "/api/v4/docs/assets/<file>",
    summary="Swagger UI's script and style sheet, for the docs page",
    tags=TAGS,
    description="No authentication. `swagger-ui-bundle.js` or `swagger-ui.css` (npm's swagger-ui-dist); "
    "any other name is 404. Cached for a year: the page's links carry the version.",
    responses=_asset_responses(),
)
def handle_get_docs_asset(file: Annotated[str, typed.Path(description=ASSET_FILE)]):
    media_type = ASSET_TYPES.get(file)
    body = _asset(file) if media_type is not None else None
    if media_type is None or body is None:
        raise e.NotFound()
    return Response(status_code=200, content_type=media_type, body=body, headers=ASSET_HEADERS)


lambda_handler = entrypoint(app)
