"""CI jobs (SPEC §6.2): created running by an administrator (not in GitLab's API), finished as a
runner finishes them."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from cluster_agents import errors as e
from cluster_agents.services import world
from cluster_agents.web import entities, guards
from cluster_agents.web import openapi as docs
from cluster_agents.web import params as typed
from cluster_agents.web.app import respond
from cluster_agents.web.auth import current_user, job_token
from cluster_agents.web.entities import JobEntity, JobWithToken
from cluster_agents.web.params import parse
from cluster_agents.web.request import current
from world_params import JobUpdate, NewJob
from world_shared import ADMIN_ONLY

router = Router()
JOB_TAGS = ["jobs"]


@router.post(
    "/api/v4/admin/ci/jobs",
    summary="Create a running CI job (not in GitLab's API)",
    tags=JOB_TAGS,
    description=ADMIN_ONLY + " The only response that carries the job token.",
    security=docs.USER_SECURITY,
    middlewares=[guards.USER],
    responses=docs.responses(
        201,
        docs.USER,
        e.InvalidParameters(["project_id is missing"]),
        docs.FORBIDDEN,
        docs.PROJECT,
        e.UserNotFound(),
        model=JobWithToken,
    ),
)
def handle_create_job(params: Annotated[NewJob, typed.Body()]):
    env = params.environment
    env_name, env_tier = (env, None) if isinstance(env, str) else ((env.name, env.tier) if env else (None, None))
    job, secret = world.create_job(
        current_user().user,
        params.project_id,
        params.user_id,
        params.pipeline_id,
        env_name or None,
        env_tier,
        params.ref,
        params.ref_protected,
    )
    return respond(entities.job(job, secret), 201)


@router.put(
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
        model=JobEntity,
    ),
)
def handle_finish_job(job_id: typed.JobId):
    request = current()
    token = request.params().get("token") or job_token(request)
    token = token if isinstance(token, str) else None
    job = world.authenticate_job(job_id, token)
    params = parse(JobUpdate)  # only once the job's token is accepted: a bad token is 401/403 whatever the state
    return respond(entities.job(world.finish_job(job, token or "", params.state)))
