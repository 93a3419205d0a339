"""The docs page in a real browser: headless Chromium (Debian's, installed when missing) opens
``/docs`` on the local API (make serve), Swagger UI renders every route of the description, the
page requested nothing from another host and logged no error (a refused Content-Security-Policy
among them), and a screenshot is left in ``build/docs-screenshot.png``."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest

from devtools.template import ROOT
from tests import browser

SCREENSHOT = ROOT / "build" / "docs-screenshot.png"
RENDER_TIMEOUT_S = 90
KNOWN_ROUTE = "/api/v4/projects/{id}/cluster_agents"
#: Swagger UI's operation blocks, each with its path (``data-path``) and method.
OPERATIONS = """JSON.stringify(Array.from(document.querySelectorAll('.opblock')).map(block => [
  (block.querySelector('.opblock-summary-method') || {}).textContent,
  (block.querySelector('.opblock-summary-path') || {dataset: {}}).dataset.path]))"""


@pytest.fixture(scope="module")
def chromium() -> str:
    try:
        return browser.chromium_executable()
    except browser.BrowserUnavailable as reason:
        if browser.in_ci():
            pytest.fail(f"Chromium cannot run here: {reason}")
        pytest.skip(f"Chromium cannot run here: {reason}")


@pytest.mark.e2e
@pytest.mark.xdist_group("local_api")  # the session's shared local API
def test_the_docs_page_renders_every_route_offline(chromium, local_api):
    document = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    operations = {(method.upper(), path) for path, methods in document["paths"].items() for method in methods}
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(local_api.base_url))
    started = time.monotonic()
    with browser.open_page() as page:
        page.send("Page.navigate", url=f"{local_api.base_url}/docs")
        rendered = page.wait_for(
            f"(() => {{ const ops = {OPERATIONS}; return JSON.parse(ops).length >= {len(operations)} && ops; }})()",
            RENDER_TIMEOUT_S,
        )
        page.screenshot(SCREENSHOT)
        requested, errors = page.requested_urls(), page.errors()
        title = page.evaluate(
            "document.querySelector('.info .title') && document.querySelector('.info .title').innerText"
        )
    took = time.monotonic() - started

    assert {(method, path) for method, path in json.loads(rendered)} == operations
    assert (("GET", KNOWN_ROUTE)) in operations
    assert title and title.startswith("Cluster Agents API")
    assert [url for url in requested if not url.startswith((origin + "/", "data:"))] == []
    assert {urlsplit(url).path for url in requested} >= {
        "/api/v4/docs",
        "/api/v4/docs/assets/swagger-ui-bundle.js",
        "/api/v4/docs/assets/swagger-ui.css",
        "/api/v4/openapi.json",
    }
    assert errors == []
    assert SCREENSHOT.stat().st_size > 10_000
    print(f"docs page rendered {len(operations)} operations in {took:.1f} s; screenshot {SCREENSHOT}")
