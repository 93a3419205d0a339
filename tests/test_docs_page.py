"""The docs page works without Internet access: it names no other host, and Swagger UI's script
and style sheet come from the docs function itself (npm's swagger-ui-dist, pinned by
devtools/swagger_ui.py), with their media types and cache headers; no other file is reachable.
tests/test_docs_browser.py opens the page in a real browser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from devtools import swagger_ui
from testkit.client import ApiClient

BASE_URL = "https://gitlab.test"  # the in-process client's host


class _Links(HTMLParser):
    """Every URL the page makes a browser load (src, href)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value is not None]


def _page(aws) -> str:
    response = ApiClient().get("/docs")
    assert response.status == 200
    return response.text


def test_the_pinned_swagger_ui_is_in_place():
    """`make install` puts it there (python -m devtools.swagger_ui)."""
    assert swagger_ui.present(), "functions/docs/swagger_ui/ is missing: run `make install`"


def test_the_page_names_no_other_host(aws):
    page = _page(aws)
    absolute = re.findall(r"\b[a-z][a-z0-9+.-]*://[^\s\"'<>)]*", page, flags=re.IGNORECASE)
    assert [url for url in absolute if not url.startswith(BASE_URL)] == []
    links = _Links()
    links.feed(page)
    assert links.urls and all(not url.startswith("//") for url in links.urls)
    assert all(url == "data:," or re.fullmatch(r"docs/assets/[\w.-]+\?v=[\w.]+", url) for url in links.urls), links.urls
    policy = ApiClient().get("/docs").headers["Content-Security-Policy"]
    assert "http" not in policy and "cdn" not in policy
    assert "script-src 'self' 'sha256-" in policy and "connect-src 'self'" in policy
    assert "validatorUrl: null" in page  # Swagger UI would otherwise send the document to an online validator


def test_every_asset_the_page_links_is_served_with_its_type_and_a_long_cache(aws):
    links = _Links()
    links.feed(_page(aws))
    assets = [url for url in links.urls if url.startswith("docs/assets/")]
    assert {url.split("?")[0].rsplit("/", 1)[1] for url in assets} == {"swagger-ui-bundle.js", "swagger-ui.css"}
    for url in assets:
        assert url.endswith(f"?v={swagger_ui.VERSION}"), url  # a new version is a new URL
        name = url.split("?")[0].rsplit("/", 1)[1]
        response = ApiClient().get(f"/docs/assets/{name}", params={"v": swagger_ui.VERSION})
        assert response.status == 200, (name, response.text[:200])
        expected_type = "text/javascript" if name.endswith(".js") else "text/css"
        assert response.headers["Content-Type"] == f"{expected_type}; charset=utf-8"
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.text == (swagger_ui.DESTINATION / name).read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in ApiClient().get("/docs/assets/swagger-ui-bundle.js").text


@pytest.mark.parametrize(
    "name",
    [
        "nothing.js",
        "VERSION",
        "LICENSE",
        "swagger-ui-bundle.js.map",
        "index.html",
        "Swagger-UI.css",
        "..%2Fdocs_app.py",
        "..%2F..%2Ftemplate.yaml",
        "%2E%2E",
        "swagger-ui.css%00",
        "%2Fetc%2Fpasswd",
    ],
)
def test_no_other_file_is_served(aws, name):
    response = ApiClient().get(f"/docs/assets/{name}")
    assert (response.status, response.json()) == (404, {"message": "404 Not found"})
    assert response.headers["Content-Type"] == "application/json"


def test_a_path_below_an_asset_is_no_route(aws):
    response = ApiClient().get("/docs/assets/swagger-ui.css/x")
    assert (response.status, response.json()) == (404, {"error": "404 Not Found"})


def test_a_tarball_that_is_not_the_pinned_one_is_refused(tmp_path):
    tampered = tmp_path / f"{swagger_ui.PACKAGE}-{swagger_ui.VERSION}.tgz"
    tampered.write_bytes(b"not the package")
    with pytest.raises(swagger_ui.VendorError, match="is not the pinned"):
        swagger_ui._check_integrity(tampered)
    assert not swagger_ui.present(tmp_path)  # an empty or partial folder is fetched again
