"""Rules of the personal access tokens users create for themselves (SPEC §7.4), as GitLab's
``POST /user/personal_access_tokens`` and its PersonalAccessToken model validate them."""

from __future__ import annotations

from datetime import date, timedelta

SELF_SERVICE_SCOPES = ("k8s_proxy",)  # GitLab allows no other scope on this route (yet)
MAX_LIFETIME = timedelta(days=365)  # PersonalAccessToken::MAX_PERSONAL_ACCESS_TOKEN_LIFETIME_IN_DAYS
# GitLab's columns (a varchar name, a text description limited to 255) would fail a longer value
# in the database; here a token item must fit in DynamoDB, so both are refused as Rails words it.
MAX_TEXT_LENGTH = 255


def length_messages(name: str | None, description: str | None) -> list[str]:
    """``Name is too long (maximum is 255 characters)``, likewise for the description."""
    return [
        f"{label} is too long (maximum is {MAX_TEXT_LENGTH} characters)"
        for label, value in (("Name", name), ("Description", description))
        if value is not None and len(value) > MAX_TEXT_LENGTH
    ]


def default_expiry(today: date) -> date:
    """Tomorrow: GitLab's ``default: -> { 1.day.from_now.to_date }``."""
    return today + timedelta(days=1)


def validation_messages(
    name: str | None, scopes: list[str], expires_at: date, today: date, description: str | None = None
) -> list[str]:
    """The model's full messages, in its validation order (empty: valid). A past ``expires_at`` is
    valid, as in GitLab: the token is created already expired."""
    messages = []
    if name is None or not name.strip():
        messages.append("Name can't be blank")
    if not scopes:
        messages.append("Scopes can't be blank")
    messages += length_messages(name, description)
    latest = today + MAX_LIFETIME
    if expires_at > latest:
        messages.append(f"Expiration date must be before {latest.isoformat()}")
    return messages
