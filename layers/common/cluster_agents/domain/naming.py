"""Names and paths as GitLab accepts them, and environment slugs and tiers (SPEC §5, §6.1)."""

from __future__ import annotations

import hashlib
import re

_PATH = re.compile(r"\A[a-zA-Z0-9_.][a-zA-Z0-9_\-.]{0,254}\Z")
_USERNAME = re.compile(r"\A[a-zA-Z0-9_.][a-zA-Z0-9_\-.]{0,254}\Z")
_SLUG = re.compile(r"\A[a-z][a-z0-9-]{0,22}[a-z0-9]\Z|\A[a-z]\Z")
_TIERS = (
    ("development", re.compile(r"(dev|review|trunk)", re.I)),
    ("testing", re.compile(r"(test|tst|int|ac(ce|)pt|qa|qc|control|quality)", re.I)),
    ("staging", re.compile(r"(st(a|)g|mod(e|)l|pre|demo|non)", re.I)),
    ("production", re.compile(r"(pr(o|)d|live)", re.I)),
)
TIERS = ("production", "staging", "testing", "development", "other")
MAX_LENGTH = 255  # GitLab's user, group and project names and paths, and full paths (its routes)
MAX_ANCESTORS = 20  # GitLab's Namespace::NUMBER_OF_ANCESTORS_ALLOWED
TOO_DEEP = "Parent has too deep level of nesting"
VISIBILITIES = ("private", "internal", "public")


def valid_path(path: str) -> bool:
    return bool(_PATH.match(path)) and not path.endswith((".git", ".atom", ".")) and ".." not in path


def valid_username(username: str) -> bool:
    return bool(_USERNAME.match(username)) and not username.endswith((".git", ".atom", "."))


def too_long(field: str, value: str, maximum: int = MAX_LENGTH) -> list[str]:
    """Rails' length message for ``field`` (``Name``, ``Path``, ...), when ``value`` is too long."""
    return [f"{field} is too long (maximum is {maximum} characters)"] if len(value) > maximum else []


def group_errors(name: str, full_path: str, ancestors: int) -> list[str]:
    """GitLab's validation of a new group, in its order: the name's length, the nesting (at most
    20 ancestors), then the full path's length (its route's, reported on the path)."""
    return [*too_long("Name", name), *([TOO_DEEP] if ancestors > MAX_ANCESTORS else []), *too_long("Path", full_path)]


def project_errors(name: str, full_path: str) -> list[str]:
    """GitLab's validation of a new project: the name's length, then the full path's (its route's)."""
    return [*too_long("Name", name), *too_long("Path", full_path)]


def path_from_name(name: str) -> str:
    """What GitLab makes of a project name when no path is given (Rails' parameterize)."""
    return re.sub(r"[^a-z0-9_]+", "-", name.lower()).strip("-")


def environment_slug(name: str) -> str:
    """GitLab's Gitlab::Slug::Environment: the name when it is already a slug, else a shortened
    form with a 6-character suffix derived from the name."""
    if _SLUG.match(name):
        return name
    slug = re.sub(r"[^a-z0-9]", "-", name.lower())
    if not slug or not slug[0].isalpha() or not slug[0].isascii():
        slug = "env-" + slug
    slug = re.sub(r"-+", "-", slug)
    if len(slug) > 24 or slug != name:
        slug = slug[:17]
        if not slug.endswith("-"):
            slug += "-"
        return slug + _suffix(name)
    return slug.rstrip("-")


def _suffix(name: str) -> str:
    number = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out[-6:].rjust(6, "0")


def guess_tier(name: str) -> str:
    for tier, pattern in _TIERS:
        if pattern.search(name):
            return tier
    return "other"
