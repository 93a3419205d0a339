"""Project and group members (SPEC §5): list, add, change a role, remove; the same four routes
under /projects/<id> and /groups/<id>."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.domain.access import VALID_ACCESS_LEVELS
from cluster_agents.errors import InvalidParameters
from cluster_agents.services import world
from cluster_agents.web import entities
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import no_content, respond
from cluster_agents.web.auth import current_user
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import requested_page
from cluster_agents.web.params import integer, parse
from cluster_agents.web.request import current
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
    common = {"tags": MEMBER_TAGS, "security": docs.USER_SECURITY}
    return {
        "list": {
            **common,
            "summary": f"List a {kind}'s members",
            "responses": docs.responses(200, docs.USER, docs.PAGE, source, paginated=True),
        },
        "add": {
            **common,
            "summary": f"Add a {kind} member",
            "description": MEMBERS_DESCRIPTION,
            "openapi_extensions": docs.body(NewMember),
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
            ),
        },
        "update": {
            **common,
            "summary": f"Change a {kind} member's role",
            "description": MEMBERS_DESCRIPTION,
            "openapi_extensions": docs.body(MemberChange),
            "responses": docs.responses(
                200,
                docs.USER,
                INVALID_USER_ID,
                BAD_ACCESS_LEVEL,
                source,
                e.MemberNotFound(),
                docs.FORBIDDEN,
                PAST_EXPIRY,
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


def _access_level(value: int) -> int:
    if value not in VALID_ACCESS_LEVELS:
        raise InvalidParameters(["access_level does not have a valid value"])
    return value


def _list_members(kind: str) -> Response:
    caller = current_user().user
    page = requested_page()
    members = world.list_members(caller, kind, current().path_param("id"))
    shown = members[page.offset : page.offset + page.size]
    return respond([entities.member(m, u) for m, u in shown], headers=page_headers(page, len(members)))


def _add_member(kind: str) -> Response:
    caller = current_user().user
    params = parse(NewMember)
    membership, user = world.add_member(
        caller, kind, current().path_param("id"), params.user_id, _access_level(params.access_level), params.expires_at
    )
    return respond(entities.member(membership, user), 201)


def _update_member(kind: str, user_id: str) -> Response:
    caller = current_user().user
    member_id = integer("user_id", user_id)
    params = parse(MemberChange)
    membership, user = world.update_member(
        caller, kind, current().path_param("id"), member_id, _access_level(params.access_level), params.expires_at
    )
    return respond(entities.member(membership, user))


def _remove_member(kind: str, user_id: str) -> Response:
    caller = current_user().user
    world.remove_member(caller, kind, current().path_param("id"), integer("user_id", user_id))
    return no_content()


@router.get("/api/v4/projects/<id>/members", **PROJECT_MEMBERS["list"])
def handle_list_project_members(id: str):
    return _list_members("project")


@router.post("/api/v4/projects/<id>/members", **PROJECT_MEMBERS["add"])
def handle_add_project_member(id: str):
    return _add_member("project")


@router.put("/api/v4/projects/<id>/members/<user_id>", **PROJECT_MEMBERS["update"])
def handle_update_project_member(id: str, user_id: str):
    return _update_member("project", user_id)


@router.delete("/api/v4/projects/<id>/members/<user_id>", **PROJECT_MEMBERS["remove"])
def handle_remove_project_member(id: str, user_id: str):
    return _remove_member("project", user_id)


@router.get("/api/v4/groups/<id>/members", **GROUP_MEMBERS["list"])
def handle_list_group_members(id: str):
    return _list_members("group")


@router.post("/api/v4/groups/<id>/members", **GROUP_MEMBERS["add"])
def handle_add_group_member(id: str):
    return _add_member("group")


@router.put("/api/v4/groups/<id>/members/<user_id>", **GROUP_MEMBERS["update"])
def handle_update_group_member(id: str, user_id: str):
    return _update_member("group", user_id)


@router.delete("/api/v4/groups/<id>/members/<user_id>", **GROUP_MEMBERS["remove"])
def handle_remove_group_member(id: str, user_id: str):
    return _remove_member("group", user_id)
