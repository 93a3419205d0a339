"""Project and group members (SPEC §5): list, add, change a role, remove; the same four routes
under /projects/<id> and /groups/<id>."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.services import world
from cluster_agents.web import entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.entities import MemberEntity
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import page_of
from world_params import MemberChange, NewMember
from world_shared import INVALID_USER_ID

router = Router()
MEMBER_TAGS = ["members"]
BAD_ACCESS_LEVEL = e.InvalidParameters(["access_level does not have a valid value"])
PROJECT_OR_GROUP = {"project": docs.PROJECT, "group": (e.GroupNotFound(),)}
MEMBERS_DESCRIPTION = "Maintainer role or above (Owner to grant or change Owner)."
PAST_EXPIRY = e.ValidationFailed(["Expires at cannot be a date in the past"])


def _member_docs(kind: str) -> dict[str, dict]:
    """The documentation of the four member routes of a project or a group."""
    source = PROJECT_OR_GROUP[kind]
    common = {"tags": MEMBER_TAGS, "security": docs.USER_SECURITY, "middlewares": [guards.USER]}
    return {
        "list": {
            **common,
            "summary": f"List a {kind}'s members",
            "responses": docs.responses(200, docs.USER, docs.PAGE, source, paginated=True, model=list[MemberEntity]),
        },
        "add": {
            **common,
            "summary": f"Add a {kind} member",
            "description": MEMBERS_DESCRIPTION,
            "responses": docs.responses(
                201,
                docs.USER,
                e.InvalidParameters(["user_id is missing"]),
                BAD_ACCESS_LEVEL,
                source,
                docs.FORBIDDEN,
                e.UserNotFound(),
                PAST_EXPIRY,
                e.Conflict("Member already exists"),
                model=MemberEntity,
            ),
        },
        "update": {
            **common,
            "summary": f"Change a {kind} member's role",
            "description": MEMBERS_DESCRIPTION,
            "responses": docs.responses(
                200,
                docs.USER,
                INVALID_USER_ID,
                BAD_ACCESS_LEVEL,
                source,
                e.MemberNotFound(),
                docs.FORBIDDEN,
                PAST_EXPIRY,
                model=MemberEntity,
            ),
        },
        "remove": {
            **common,
            "summary": f"Remove a {kind} member",
            "description": MEMBERS_DESCRIPTION,
            "responses": docs.responses(204, docs.USER, INVALID_USER_ID, source, e.MemberNotFound(), docs.FORBIDDEN),
        },
    }


PROJECT_MEMBERS, GROUP_MEMBERS = _member_docs("project"), _member_docs("group")


def _list_members(kind: str, source: str, page: int, per_page: int) -> Response:
    requested = page_of(page, per_page)
    members = world.list_members(current_user().user, kind, source)
    shown = members[requested.offset : requested.offset + requested.size]
    return respond([entities.member(m, u) for m, u in shown], headers=page_headers(requested, len(members)))


def _add_member(kind: str, source: str, params: NewMember) -> Response:
    membership, user = world.add_member(
        current_user().user, kind, source, params.user_id, params.access_level, params.expires_at
    )
    return respond(entities.member(membership, user), 201)


def _update_member(kind: str, source: str, user_id: int, params: MemberChange) -> Response:
    membership, user = world.update_member(
        current_user().user, kind, source, user_id, params.access_level, params.expires_at
    )
    return respond(entities.member(membership, user))


def _remove_member(kind: str, source: str, user_id: int) -> Response:
    world.remove_member(current_user().user, kind, source, user_id)
    return no_content()


@router.get("/api/v4/projects/<id>/members", **PROJECT_MEMBERS["list"])
def handle_list_project_members(id: typed.ProjectRef, page: typed.PageNumber = 1, per_page: typed.PerPage = 20):
    return _list_members("project", id, page, per_page)


@router.post("/api/v4/projects/<id>/members", **PROJECT_MEMBERS["add"])
def handle_add_project_member(id: typed.ProjectRef, params: Annotated[NewMember, typed.Body()]):
    return _add_member("project", id, params)


@router.put("/api/v4/projects/<id>/members/<user_id>", **PROJECT_MEMBERS["update"])
def handle_update_project_member(
    id: typed.ProjectRef, user_id: typed.UserId, params: Annotated[MemberChange, typed.Body()]
):
    return _update_member("project", id, user_id, params)


@router.delete("/api/v4/projects/<id>/members/<user_id>", **PROJECT_MEMBERS["remove"])
def handle_remove_project_member(id: typed.ProjectRef, user_id: typed.UserId):
    return _remove_member("project", id, user_id)


@router.get("/api/v4/groups/<id>/members", **GROUP_MEMBERS["list"])
def handle_list_group_members(id: typed.ProjectRef, page: typed.PageNumber = 1, per_page: typed.PerPage = 20):
    return _list_members("group", id, page, per_page)


@router.post("/api/v4/groups/<id>/members", **GROUP_MEMBERS["add"])
def handle_add_group_member(id: typed.ProjectRef, params: Annotated[NewMember, typed.Body()]):
    return _add_member("group", id, params)


@router.put("/api/v4/groups/<id>/members/<user_id>", **GROUP_MEMBERS["update"])
def handle_update_group_member(
    id: typed.ProjectRef, user_id: typed.UserId, params: Annotated[MemberChange, typed.Body()]
):
    return _update_member("group", id, user_id, params)


@router.delete("/api/v4/groups/<id>/members/<user_id>", **GROUP_MEMBERS["remove"])
def handle_remove_group_member(id: typed.ProjectRef, user_id: typed.UserId):
    return _remove_member("group", id, user_id)
