"""The GitLab world around the agents (SPEC §5, §6.2, §7.4): metadata, users, personal access
tokens, groups, projects, members, and CI jobs (admin create, runner-style finish)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from cluster_agents import errors as e
from cluster_agents.domain.access import VALID_ACCESS_LEVELS
from cluster_agents.domain.naming import TOO_DEEP, path_from_name, too_long, valid_path, valid_username
from cluster_agents.errors import InvalidParameters, RequestRejected, ValidationFailed
from cluster_agents.services import world
from cluster_agents.settings import get_settings
from cluster_agents.web import entities
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import create_app, entrypoint, no_content, respond
from cluster_agents.web.auth import ANY_SCOPE, METADATA, USERS, current_user, job_token
from cluster_agents.web.pagination import headers as page_headers
from cluster_agents.web.pagination import requested_page
from cluster_agents.web.params import integer, parse
from cluster_agents.web.request import current
from world_params import (
    JobUpdate,
    MemberChange,
    NewGroup,
    NewJob,
    NewMember,
    NewOwnPersonalAccessToken,
    NewPersonalAccessToken,
    NewProject,
    NewUser,
)

app = create_app()

USER_TAGS, TOKEN_TAGS, GROUP_TAGS, PROJECT_TAGS = ["users"], ["personal access tokens"], ["groups"], ["projects"]
MEMBER_TAGS, JOB_TAGS = ["members"], ["jobs"]
ADMIN_ONLY = "Administrators only."
INVALID_USER_ID = e.InvalidParameters(["user_id is invalid"])
BAD_ACCESS_LEVEL = e.InvalidParameters(["access_level does not have a valid value"])
PATH_RULES = e.ValidationFailed(
    ["Path can contain only letters, digits, '_', '-' and '.'. Cannot start with '-', end in '.git' or end in '.atom'"]
)
PATH_TAKEN = e.ValidationFailed(["Path has already been taken"])
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


# ---------------------------------------------------------------- metadata and users
def _metadata_docs(method: str, summary: str) -> dict:
    return {
        "summary": summary,
        "tags": ["metadata"],
        "security": docs.USER_SECURITY,
        "description": "Any personal access token with api, read_api, read_user or ai_features.",
        "responses": docs.responses(
            200, docs.user(METADATA, method), success_description="OK (HEAD: empty body)" if method == "HEAD" else ""
        ),
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


@app.get("/api/v4/metadata", **_metadata_docs("GET", "This instance's version and agent server (KAS)"))
def handle_get_metadata():
    return _metadata()


@app.head("/api/v4/metadata", **_metadata_docs("HEAD", "Whether the metadata can be read"))
def handle_head_metadata():
    return _metadata()


@app.get("/api/v4/version", **_metadata_docs("GET", "The metadata (deprecated alias of /metadata)"))
def handle_get_version():
    return _metadata()


@app.head("/api/v4/version", **_metadata_docs("HEAD", "Whether the metadata can be read (deprecated alias)"))
def handle_head_version():
    return _metadata()


@app.get(
    "/api/v4/user",
    summary="The current user",
    tags=USER_TAGS,
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.user(USERS, "GET")),
)
def handle_get_current_user():
    caller = current_user(USERS).user
    return respond(entities.user_details(caller, show_private=True))


@app.get(
    "/api/v4/users/<user_id>",
    summary="Get a user",
    tags=USER_TAGS,
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.user(USERS, "GET"), INVALID_USER_ID, e.UserNotFound()),
)
def handle_get_user(user_id: str):
    caller = current_user(USERS).user
    user = world.get_user(integer("user_id", user_id))
    return respond(entities.user_details(user, show_private=caller.is_admin or caller.id == user.id))


@app.post(
    "/api/v4/users",
    summary="Create a user",
    tags=USER_TAGS,
    description=ADMIN_ONLY,
    security=docs.USER_SECURITY,
    openapi_extensions=docs.body(NewUser),
    responses=docs.responses(
        201,
        docs.user(USERS, "POST"),
        e.InvalidParameters(["email is missing"]),
        e.ValidationFailed(["Email is invalid"]),
        e.ValidationFailed(too_long("Email", "-" * 256)),
        docs.FORBIDDEN,
        e.Conflict("Username has already been taken"),
    ),
)
def handle_create_user():
    caller = current_user(USERS).user
    params = parse(NewUser)
    if not valid_username(params.username):
        raise ValidationFailed(
            [
                "Username can contain only letters, digits, '_', '-' and '.'. "
                "Cannot start with '-' or end in '.', '.git' or '.atom'."
            ]
        )
    if "@" not in params.email:
        raise ValidationFailed(["Email is invalid"])
    user = world.create_user(caller, params.username, params.name, params.email, params.admin)
    return respond(entities.user_details(user, show_private=True), 201)


@app.post(
    "/api/v4/users/<user_id>/personal_access_tokens",
    summary="Create a personal access token",
    tags=TOKEN_TAGS,
    description=ADMIN_ONLY + " The only response that carries the token.",
    security=docs.USER_SECURITY,
    openapi_extensions=docs.body(NewPersonalAccessToken),
    responses=docs.responses(
        201,
        docs.user(USERS, "POST"),
        INVALID_USER_ID,
        e.InvalidParameters(["name is missing"]),
        e.InvalidParameters(["scopes does not have a valid value"]),
        docs.FORBIDDEN,
        e.UserNotFound(),
        e.ValidationFailed(["Expiration date must be in the future"]),
        e.ValidationFailed(["Name is too long (maximum is 255 characters)"]),
    ),
)
def handle_create_personal_access_token(user_id: str):
    caller = current_user(USERS).user
    owner_id = integer("user_id", user_id)
    params = parse(NewPersonalAccessToken)
    token, secret = world.create_personal_access_token(
        caller, owner_id, params.name, params.scopes, params.expires_at, params.description
    )
    return respond(entities.personal_access_token(token, secret), 201)


@app.post(
    "/api/v4/user/personal_access_tokens",
    summary="Create a personal access token for yourself",
    tags=TOKEN_TAGS,
    description="Only the k8s_proxy scope; expires tomorrow unless expires_at says "
    "otherwise (at most a year ahead). The only response that carries the token.",
    security=docs.USER_SECURITY,
    openapi_extensions=docs.body(NewOwnPersonalAccessToken),
    responses=docs.responses(
        201,
        docs.user(USERS, "POST"),
        e.InvalidParameters(["name is missing"]),
        e.InvalidParameters(["scopes does not have a valid value"]),
        e.InvalidParameters(["expires_at is invalid"]),
        e.Unprocessable(["Name can't be blank", "Scopes can't be blank"]),
        e.Unprocessable(["Expiration date must be before 2027-01-01"]),
        e.Unprocessable(["Description is too long (maximum is 255 characters)"]),
    ),
)
def handle_create_own_personal_access_token():
    caller = current_user(USERS).user
    params = parse(NewOwnPersonalAccessToken)
    token, secret = world.create_own_personal_access_token(
        caller, params.name, params.scopes, params.expires_at, params.description
    )
    return respond(entities.personal_access_token(token, secret), 201)


@app.get(
    "/api/v4/personal_access_tokens/self",
    summary="The personal access token of the request",
    tags=TOKEN_TAGS,
    description="Any personal access token, whatever its scopes (k8s_proxy too).",
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.user(ANY_SCOPE, "GET")),
)
def handle_get_own_personal_access_token():
    token = current_user(ANY_SCOPE).token
    if token is None:  # never: a personal access token is what authenticates a user here
        raise e.Unauthenticated()
    return respond(entities.personal_access_token(token))


@app.delete(
    "/api/v4/personal_access_tokens/<token_id>",
    summary="Revoke a personal access token",
    tags=TOKEN_TAGS,
    description="Its owner or an administrator.",
    security=docs.USER_SECURITY,
    responses=docs.responses(204, docs.USER, e.InvalidParameters(["token_id is invalid"]), e.NotFound("Not Found")),
)
def handle_revoke_personal_access_token(token_id: str):
    caller = current_user().user
    world.revoke_personal_access_token(caller, integer("token_id", token_id))
    return no_content()


# ---------------------------------------------------------------- groups and projects
@app.post(
    "/api/v4/groups",
    summary="Create a group",
    tags=GROUP_TAGS,
    security=docs.USER_SECURITY,
    description="Anyone may create a top-level group; a subgroup needs Maintainer in its parent.",
    openapi_extensions=docs.body(NewGroup),
    responses=docs.responses(
        201,
        docs.USER,
        e.InvalidParameters(["name is missing"]),
        PATH_RULES,
        e.ValidationFailed([TOO_DEEP]),
        e.ValidationFailed(too_long("Path", "-" * 256)),
        e.GroupNotFound(),
        docs.FORBIDDEN,
        PATH_TAKEN,
    ),
)
def handle_create_group():
    caller = current_user().user
    params = parse(NewGroup)
    if not valid_path(params.path):
        raise ValidationFailed(
            [
                "Path can contain only letters, digits, '_', '-' and '.'. "
                "Cannot start with '-', end in '.git' or end in '.atom'"
            ]
        )
    group = world.create_group(
        caller, params.name, params.path, params.parent_id, params.visibility, params.description
    )
    return respond(entities.group(group), 201)


@app.get(
    "/api/v4/groups/<id>",
    summary="Get a group",
    tags=GROUP_TAGS,
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.USER, e.GroupNotFound()),
)
def handle_get_group(id: str):
    caller = current_user().user
    group, _ = world.visible_group(caller, current().path_param("id"))
    return respond(entities.group(group))


@app.post(
    "/api/v4/projects",
    summary="Create a project",
    tags=PROJECT_TAGS,
    security=docs.USER_SECURITY,
    description="In the caller's personal namespace, or in a group where the caller is Maintainer.",
    openapi_extensions=docs.body(NewProject),
    responses=docs.responses(
        201,
        docs.USER,
        e.InvalidParameters(["visibility does not have a valid value"]),
        e.RequestRejected("name, path are missing, at least one parameter must be provided"),
        PATH_RULES,
        e.ValidationFailed(too_long("Path", "-" * 256)),
        e.NotFound("Namespace Not Found"),
        docs.FORBIDDEN,
        e.ValidationFailed(["Path has already been taken", "Name has already been taken"]),
    ),
)
def handle_create_project():
    caller = current_user().user
    params = parse(NewProject)
    if not params.name and not params.path:
        raise RequestRejected("name, path are missing, at least one parameter must be provided")
    name = params.name or params.path or ""
    path = params.path or path_from_name(name)
    if not valid_path(path):
        raise ValidationFailed(
            [
                "Path can contain only letters, digits, '_', '-' and '.'. "
                "Cannot start with '-', end in '.git' or end in '.atom'"
            ]
        )
    project = world.create_project(caller, name, path, params.namespace_id, params.description, params.visibility)
    return respond(entities.project(project), 201)


@app.get(
    "/api/v4/projects/<id>",
    summary="Get a project",
    tags=PROJECT_TAGS,
    security=docs.USER_SECURITY,
    responses=docs.responses(200, docs.USER, docs.PROJECT),
)
def handle_get_project(id: str):
    caller = current_user().user
    return respond(entities.project(world.visible_project(caller, current().path_param("id"))))


# ---------------------------------------------------------------- members
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


@app.get("/api/v4/projects/<id>/members", **PROJECT_MEMBERS["list"])
def handle_list_project_members(id: str):
    return _list_members("project")


@app.post("/api/v4/projects/<id>/members", **PROJECT_MEMBERS["add"])
def handle_add_project_member(id: str):
    return _add_member("project")


@app.put("/api/v4/projects/<id>/members/<user_id>", **PROJECT_MEMBERS["update"])
def handle_update_project_member(id: str, user_id: str):
    return _update_member("project", user_id)


@app.delete("/api/v4/projects/<id>/members/<user_id>", **PROJECT_MEMBERS["remove"])
def handle_remove_project_member(id: str, user_id: str):
    return _remove_member("project", user_id)


@app.get("/api/v4/groups/<id>/members", **GROUP_MEMBERS["list"])
def handle_list_group_members(id: str):
    return _list_members("group")


@app.post("/api/v4/groups/<id>/members", **GROUP_MEMBERS["add"])
def handle_add_group_member(id: str):
    return _add_member("group")


@app.put("/api/v4/groups/<id>/members/<user_id>", **GROUP_MEMBERS["update"])
def handle_update_group_member(id: str, user_id: str):
    return _update_member("group", user_id)


@app.delete("/api/v4/groups/<id>/members/<user_id>", **GROUP_MEMBERS["remove"])
def handle_remove_group_member(id: str, user_id: str):
    return _remove_member("group", user_id)


# ---------------------------------------------------------------- CI jobs
@app.post(
    "/api/v4/admin/ci/jobs",
    summary="Create a running CI job (not in GitLab's API)",
    tags=JOB_TAGS,
    description=ADMIN_ONLY + " The only response that carries the job token.",
    security=docs.USER_SECURITY,
    openapi_extensions=docs.body(NewJob),
    responses=docs.responses(
        201, docs.USER, e.InvalidParameters(["project_id is missing"]), docs.FORBIDDEN, docs.PROJECT, e.UserNotFound()
    ),
)
def handle_create_job():
    caller = current_user().user
    params = parse(NewJob)
    env = params.environment
    env_name, env_tier = (env, None) if isinstance(env, str) else ((env.name, env.tier) if env else (None, None))
    job, secret = world.create_job(
        caller,
        params.project_id,
        params.user_id,
        params.pipeline_id,
        env_name or None,
        env_tier,
        params.ref,
        params.ref_protected,
    )
    return respond(entities.job(job, secret), 201)


@app.put(
    "/api/v4/jobs/<job_id>",
    summary="Finish a CI job, as a runner does",
    tags=JOB_TAGS,
    description="Authenticated by the job's token (token parameter or JOB-TOKEN); from then on the token is rejected.",
    security=[{"JobToken": []}, {"RunnerToken": []}],
    openapi_extensions=docs.body(JobUpdate),
    responses=docs.responses(
        200,
        docs.BODY,
        docs.BUSY,
        e.InvalidParameters(["job_id is invalid"]),
        docs.FORBIDDEN,
        e.Forbidden("Job is not running"),
        e.InvalidParameters(["state does not have a valid value"]),
    ),
)
def handle_finish_job(job_id: str):
    request = current()
    token = request.params().get("token") or job_token(request)
    token = token if isinstance(token, str) else None
    job = world.authenticate_job(integer("job_id", job_id), token)
    params = parse(JobUpdate)
    return respond(entities.job(world.finish_job(job, token or "", params.state)))


lambda_handler = entrypoint(app)
