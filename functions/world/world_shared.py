"""What more than one group of the world's routes documents or checks."""

from __future__ import annotations

from cluster_agents import errors as e
from cluster_agents.domain.naming import valid_path

ADMIN_ONLY = "Administrators only."
INVALID_USER_ID = e.InvalidParameters(["user_id is invalid"])
PATH_RULES_MESSAGE = (
    "Path can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'"
)
PATH_RULES = e.ValidationFailed([PATH_RULES_MESSAGE])


def check_path(path: str) -> None:
    """A group's or a project's path, as GitLab's path format validation refuses it."""
    if not valid_path(path):
        raise e.ValidationFailed([PATH_RULES_MESSAGE])
