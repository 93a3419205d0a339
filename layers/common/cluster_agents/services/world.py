"""Use cases of the GitLab world (SPEC §5, §6.2): users, tokens, groups, projects, members, jobs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from cluster_agents import clock
from cluster_agents.crypto import digest, random_token
from cluster_agents.domain.access import AccessLevel, effective_level
from cluster_agents.domain.models import (
    Environment,
    Group,
    Job,
    Membership,
    Namespace,
    PersonalAccessToken,
    Project,
    User,
)
from cluster_agents.domain.naming import environment_slug, group_errors, guess_tier, project_errors, too_long
from cluster_agents.domain.personal_access_tokens import default_expiry, length_messages, validation_messages
from cluster_agents.errors import (
    Forbidden,
    GroupNotFound,
    MemberNotFound,
    NotFound,
    ProjectNotFound,
    Unprocessable,
    UserNotFound,
    ValidationFailed,
)
from cluster_agents.observability import count, identify
from cluster_agents.services.projects import access_to_project
from cluster_agents.store.groups import groups
from cluster_agents.store.jobs import jobs
from cluster_agents.store.memberships import memberships
from cluster_agents.store.namespaces import namespaces
from cluster_agents.store.personal_access_tokens import personal_access_tokens
from cluster_agents.store.projects import projects
from cluster_agents.store.users import users

PAT_PREFIX = "glpat-"
JOB_TOKEN_PREFIX = "glcbt-"


def _require_admin(caller: User) -> None:
    if not caller.is_admin:
        raise Forbidden()


# ---------------------------------------------------------------- users and tokens
def get_user(user_id: int) -> User:
    user = users().get(user_id)
    if user is None:
        raise UserNotFound()
    return user


def create_user(caller: User, username: str, name: str, email: str, admin: bool) -> User:
    _require_admin(caller)
    errors = [*too_long("Name", name), *too_long("Email", email)]
    if errors:
        raise ValidationFailed(errors)
    # Users and groups share one id space, as GitLab namespaces do: a namespace_id names either.
    user = User(
        id=namespaces().next_id(),
        username=username,
        name=name,
        email=email,
        is_admin=admin,
        created_at=clock.now_iso(),
    )
    users().create(user)
    return user


def create_personal_access_token(
    caller: User, user_id: int, name: str, scopes: list[str], expires_at: date | None, description: str | None
) -> tuple[PersonalAccessToken, str]:
    """A new token for ``user_id``; returns it with its secret, which is never shown again."""
    _require_admin(caller)
    owner = get_user(user_id)
    if expires_at and expires_at < clock.today():
        raise ValidationFailed(["Expiration date must be in the future"])
    too_long = length_messages(name, description)
    if too_long:
        raise ValidationFailed(too_long)
    return _issue_personal_access_token(owner, name, scopes, expires_at, description)


def create_own_personal_access_token(
    caller: User, name: str | None, scopes: list[str], expires_at: date | None, description: str | None
) -> tuple[PersonalAccessToken, str]:
    """A new token of the caller for themselves (SPEC §7.4; the route allows only ``k8s_proxy``),
    expiring tomorrow unless told otherwise; 422 with the model's messages when invalid."""
    today = clock.today()
    expiry = expires_at or default_expiry(today)
    messages = validation_messages(name, scopes, expiry, today, description)
    if messages:
        raise Unprocessable(messages)
    return _issue_personal_access_token(caller, name or "", scopes, expiry, description)


def _issue_personal_access_token(
    owner: User, name: str, scopes: list[str], expires_at: date | None, description: str | None
) -> tuple[PersonalAccessToken, str]:
    """Store a new token of ``owner``; returns it with its secret, which is never shown again."""
    secret = random_token(PAT_PREFIX, 20)
    token = PersonalAccessToken(
        id=personal_access_tokens().next_id(),
        user_id=owner.id,
        name=name,
        scopes=tuple(dict.fromkeys(scopes)),
        created_at=clock.now_iso(),
        expires_at=expires_at.isoformat() if expires_at else None,
        description=description,
    )
    personal_access_tokens().create_pat(token, digest(secret), owner)
    count("PersonalAccessTokensCreated")
    return token, secret


def revoke_personal_access_token(caller: User, token_id: int) -> None:
    found = personal_access_tokens().get_pat(token_id)
    if found is None or (found[0].user_id != caller.id and not caller.is_admin):
        raise NotFound("Not Found")
    personal_access_tokens().revoke_pat(found[1])
    count("PersonalAccessTokensRevoked")


# ---------------------------------------------------------------- groups
def find_group(id_or_path: str) -> Group | None:
    if id_or_path.isascii() and id_or_path.isdigit() and len(id_or_path) < 19:
        return groups().get(int(id_or_path))
    found = namespaces().find(id_or_path)
    return groups().get(found[1]) if found and found[0] == "group" else None


def group_level(user: User, group: Group) -> AccessLevel:
    found = memberships().of(user.id, [("group", gid) for gid in group.self_and_ancestor_ids])
    return effective_level(found, clock.today().isoformat())


def visible_group(caller: User, id_or_path: str) -> tuple[Group, AccessLevel]:
    group = find_group(id_or_path)
    if group is None:
        raise GroupNotFound()
    level = AccessLevel.OWNER if caller.is_admin else group_level(caller, group)
    if group.visibility == "private" and level == AccessLevel.NO_ACCESS:
        raise GroupNotFound()
    return group, level


def create_group(caller: User, name: str, path: str, parent_id: int | None, visibility: str, description: str) -> Group:
    parent = None
    if parent_id is not None:
        parent = groups().get(parent_id)
        if parent is None:
            raise GroupNotFound()
        level = AccessLevel.OWNER if caller.is_admin else group_level(caller, parent)
        if parent.visibility == "private" and level == AccessLevel.NO_ACCESS:
            raise GroupNotFound()  # as GitLab's find_group!: a group the caller cannot see is not there
        if level < AccessLevel.MAINTAINER:
            raise Forbidden()
    full_path = f"{parent.full_path}/{path}" if parent else path
    errors = group_errors(name, full_path, len(parent.self_and_ancestor_ids) if parent else 0)
    if errors:
        raise ValidationFailed(errors)
    group = Group(
        id=namespaces().next_id(),
        name=name,
        path=path,
        full_path=full_path,
        full_name=f"{parent.full_name} / {name}" if parent else name,
        visibility=visibility,
        created_at=clock.now_iso(),
        parent_id=parent.id if parent else None,
        ancestor_ids=parent.self_and_ancestor_ids if parent else (),
        description=description,
    )
    owner = Membership("group", group.id, caller.id, AccessLevel.OWNER, group.created_at)
    groups().create(group, owner, caller)
    return group


# ---------------------------------------------------------------- projects
def create_project(
    caller: User, name: str, path: str, namespace_id: int | None, description: str, visibility: str
) -> Project:
    creator_membership_level: int | None = None
    group = groups().get(namespace_id) if namespace_id is not None else None
    if group is None and namespace_id not in (None, caller.id):
        raise NotFound("Namespace Not Found")
    if group is None:
        namespace = Namespace("user", caller.id, caller.name, caller.username, caller.username, caller.name)
        group_ids: tuple[int, ...] = ()
    else:
        level = AccessLevel.OWNER if caller.is_admin else group_level(caller, group)
        if group.visibility == "private" and level == AccessLevel.NO_ACCESS:
            raise NotFound("Namespace Not Found")  # a group the caller cannot see is not there
        if level < AccessLevel.MAINTAINER:
            raise Forbidden()
        namespace = group.as_namespace()
        group_ids = group.self_and_ancestor_ids
        inherited = group_level(caller, group) if caller.is_admin else level
        if inherited < AccessLevel.MAINTAINER:
            creator_membership_level = AccessLevel.MAINTAINER
    errors = project_errors(name, f"{namespace.full_path}/{path}")
    if errors:
        raise ValidationFailed(errors)
    project = Project(
        id=projects().next_id(),
        name=name,
        path=path,
        description=description,
        visibility=visibility,
        namespace=namespace,
        created_at=clock.now_iso(),
        creator_id=caller.id,
        group_ids=group_ids,
    )
    membership = (
        Membership("project", project.id, caller.id, creator_membership_level, project.created_at)
        if creator_membership_level
        else None
    )
    projects().create(project, membership, caller)
    return project


def visible_project(caller: User, id_or_path: str) -> Project:
    return access_to_project(caller, id_or_path).project


# ---------------------------------------------------------------- members
def _source(caller: User, kind: str, id_or_path: str) -> tuple[int, AccessLevel]:
    """The member source's id and the caller's level in it (404 when not visible)."""
    if kind == "project":
        access = access_to_project(caller, id_or_path)
        return access.project.id, access.effective
    group, level = visible_group(caller, id_or_path)
    return group.id, level


def _authorize_member_change(caller_level: AccessLevel, granted: int, current: int | None = None) -> None:
    if caller_level < AccessLevel.MAINTAINER:
        raise Forbidden()
    if caller_level < AccessLevel.OWNER and (granted >= AccessLevel.OWNER or (current or 0) >= AccessLevel.OWNER):
        raise Forbidden()


def _check_expiry(expires_at: date | None) -> str | None:
    if expires_at is None:
        return None
    if expires_at < clock.today():
        raise ValidationFailed(["Expires at cannot be a date in the past"])
    return expires_at.isoformat()


def list_members(caller: User, kind: str, id_or_path: str) -> list[tuple[Membership, User]]:
    source_id, _ = _source(caller, kind, id_or_path)
    return memberships().members_of(kind, source_id)


def add_member(
    caller: User, kind: str, id_or_path: str, user_id: int, access_level: int, expires_at: date | None
) -> tuple[Membership, User]:
    source_id, level = _source(caller, kind, id_or_path)
    _authorize_member_change(level, access_level)
    user = get_user(user_id)
    membership = Membership(kind, source_id, user.id, access_level, clock.now_iso(), _check_expiry(expires_at))
    memberships().add(membership, user)
    return membership, user


def update_member(
    caller: User, kind: str, id_or_path: str, user_id: int, access_level: int, expires_at: date | None
) -> tuple[Membership, User]:
    source_id, level = _source(caller, kind, id_or_path)
    existing = memberships().get(kind, source_id, user_id)
    if existing is None:
        raise MemberNotFound()
    _authorize_member_change(level, access_level, existing[0].access_level)
    membership = Membership(kind, source_id, user_id, access_level, existing[0].created_at, _check_expiry(expires_at))
    if not memberships().replace(membership, existing[1]):
        raise MemberNotFound()
    return membership, existing[1]


def remove_member(caller: User, kind: str, id_or_path: str, user_id: int) -> None:
    source_id, level = _source(caller, kind, id_or_path)
    existing = memberships().get(kind, source_id, user_id)
    if existing is None:
        raise MemberNotFound()
    _authorize_member_change(level, existing[0].access_level)
    if not memberships().remove(kind, source_id, user_id):
        raise MemberNotFound()


# ---------------------------------------------------------------- CI jobs
def create_job(
    caller: User,
    project_id: int,
    user_id: int,
    pipeline_id: int | None,
    environment_name: str | None,
    environment_tier: str | None,
    ref: str,
    ref_protected: bool,
) -> tuple[Job, str]:
    _require_admin(caller)
    if projects().get(project_id) is None:
        raise ProjectNotFound()
    get_user(user_id)
    environment = None
    if environment_name:
        environment = Environment(
            environment_name, environment_slug(environment_name), environment_tier or guess_tier(environment_name)
        )
    secret = random_token(JOB_TOKEN_PREFIX, 40)
    job_id, new_pipeline_id = jobs().next_ids(with_pipeline=not pipeline_id)
    pipeline_id = pipeline_id or new_pipeline_id
    assert pipeline_id is not None, "next_job_ids gives a pipeline id when asked for one"
    job = Job(
        id=job_id,
        project_id=project_id,
        user_id=user_id,
        pipeline_id=pipeline_id,
        status="running",
        created_at=clock.now_iso(),
        ref=ref,
        ref_protected=ref_protected,
        environment=environment,
    )
    jobs().create(job, digest(secret))
    return job, secret


def authenticate_job(job_id: int, token: str | None) -> Job:
    """The running job ``job_id`` if ``token`` is its token (a runner's credentials), else 403."""
    job = jobs().get_job_by_digest(digest(token)) if token else None
    if job is None or job.id != job_id:
        raise Forbidden()
    identify(job_id=job.id)
    if not job.running:
        raise Forbidden("Job is not running")
    return job


def finish_job(job: Job, token: str, state: str) -> Job:
    """A runner reports the end of ``job`` (authenticated by ``token``); from then on the token is rejected."""
    if not jobs().finish(digest(token), state):
        raise Forbidden("Job is not running")
    return replace(job, status=state)
