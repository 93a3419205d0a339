"""GitLab offset pagination (SPEC §1.5): page/per_page parsing and every header, Link included."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from cluster_agents.web.request import CREDENTIAL_PARAMS, current

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page:
    number: int
    size: int

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size


def page_integer(value: object, default: int) -> int:
    """``page`` or ``per_page`` as Grape reads it: absent or blank is ``default``; ValueError when
    it is no integer (``<name> is invalid``)."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, int):  # a JSON number: as many digits as a string may have
        if abs(value) >= 10**18:
            raise ValueError("too large")
        return value
    text = str(value).strip()
    if not text.lstrip("-+").isdigit() or not text.isascii() or len(text) > 18:
        raise ValueError("not an integer")
    return int(text)


def page_of(number: int, size: int) -> Page:
    """The page asked for: below 1 is the first, a size below 1 the default, above 100 is 100."""
    return Page(number=max(number, 1), size=min(size, MAX_PER_PAGE) if size >= 1 else DEFAULT_PER_PAGE)


def headers(page: Page, total: int) -> dict[str, str]:
    """X-Total, X-Total-Pages, X-Per-Page, X-Page, X-Next-Page, X-Prev-Page and Link."""
    total_pages = max(1, -(-total // page.size))
    out_of_range = page.number > total_pages
    next_page = page.number + 1 if page.number < total_pages and not out_of_range else None
    prev_page = page.number - 1 if page.number > 1 and not out_of_range else None
    links = []
    if prev_page:
        links.append(f'<{_url(prev_page, page.size)}>; rel="prev"')
    if next_page:
        links.append(f'<{_url(next_page, page.size)}>; rel="next"')
    links.append(f'<{_url(1, page.size)}>; rel="first"')
    links.append(f'<{_url(total_pages, page.size)}>; rel="last"')
    return {
        "X-Total": str(total),
        "X-Total-Pages": str(total_pages),
        "X-Per-Page": str(page.size),
        "X-Page": str(page.number),
        "X-Next-Page": str(next_page or ""),
        "X-Prev-Page": str(prev_page or ""),
        "Link": ", ".join(links),
    }


def _url(number: int, size: int) -> str:
    request = current()
    query = [(k, v) for k, v in request.query() if k not in CREDENTIAL_PARAMS and k not in ("page", "per_page")]
    query += [("page", str(number)), ("per_page", str(size))]
    query.sort(key=lambda pair: pair[0])  # Rails' to_query sorts by key
    return f"{request.base_url()}{request.event.path}?{urlencode(query)}"
