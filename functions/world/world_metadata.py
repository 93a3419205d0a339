"""GET/HEAD /metadata and its deprecated alias /version (SPEC §5): the version and agent server."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents.settings import get_settings
from cluster_agents.web import entities
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import respond
from cluster_agents.web.auth import METADATA, current_user
from cluster_agents.web.entities import Metadata
from cluster_agents.web.request import current

router = Router()


def _metadata_docs(method: str, summary: str) -> dict:
    # HEAD documents GET's body (its model), which it does not send.
    head = "OK (HEAD: empty body)" if method == "HEAD" else ""
    return {
        "summary": summary,
        "tags": ["metadata"],
        "security": docs.USER_SECURITY,
        "description": "Any personal access token with api, read_api, read_user or ai_features.",
        "responses": docs.responses(200, docs.user(METADATA, method), success_description=head, model=Metadata),
    }


def _metadata() -> Response:
    current_user(METADATA)
    if current().method == "HEAD":
        return Response(status_code=200, body="")
    settings = get_settings()
    return respond(
        entities.metadata(
            settings.version,
            settings.revision,
            settings.kas_external_url or None,
            settings.kas_external_k8s_proxy_url or None,
        )
    )


@router.get("/api/v4/metadata", **_metadata_docs("GET", "This instance's version and agent server (KAS)"))
def handle_get_metadata():
    return _metadata()


@router.head("/api/v4/metadata", **_metadata_docs("HEAD", "Whether the metadata can be read"))
def handle_head_metadata():
    return _metadata()


@router.get("/api/v4/version", **_metadata_docs("GET", "The metadata (deprecated alias of /metadata)"))
def handle_get_version():
    return _metadata()


@router.head("/api/v4/version", **_metadata_docs("HEAD", "Whether the metadata can be read (deprecated alias)"))
def handle_head_version():
    return _metadata()
