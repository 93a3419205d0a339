"""CI jobs and the agents they may use (SPEC §6.1): ``GET /job/allowed_agents``, authenticated
by the job's own token (``JOB-TOKEN``, ``job_token`` or ``Authorization: Bearer``)."""

from __future__ import annotations

from cluster_agents.services import ci_jobs
from cluster_agents.web import ci_access_entities
from cluster_agents.web import openapi as docs
from cluster_agents.web.app import create_app, entrypoint, respond
from cluster_agents.web.ci_access_entities import AllowedAgentsBody
from cluster_agents.web.job_auth import authenticated_job

app = create_app()


@app.get(
    "/api/v4/job/allowed_agents",
    summary="The agents a running CI job may use",
    tags=["jobs"],
    description="Authenticated by the job's own token (JOB-TOKEN, job_token or Authorization: Bearer); a "
    "user's token authenticates no job (404 Job Not Found).",
    security=docs.JOB_SECURITY,
    responses=docs.responses(200, docs.JOB, model=AllowedAgentsBody),
)
def handle_get_allowed_agents():
    job = authenticated_job()
    return respond(ci_access_entities.allowed_agents(ci_jobs.allowed_agents(job)))


lambda_handler = entrypoint(app)
