"""A CI job's own credentials (SPEC §1.1, §6.1), for the one route that takes them.

GitLab (``find_user_from_job_token`` then ``validate_current_authenticated_job``):
- a token given as a job token (``JOB-TOKEN`` header, ``job_token`` parameter) must be the token
  of a running job, else 401 - even when a valid personal access token comes along;
- ``Authorization: Bearer`` may carry either kind, so it is looked up as a job token first;
  a running job's token authenticates, a finished job's is 401;
- anything else is a user's credentials: invalid ones fail as they do everywhere (401, expired,
  revoked, scope), valid ones authenticate a user but no job: 404 ``Job Not Found``."""

from __future__ import annotations

from cluster_agents.crypto import digest
from cluster_agents.domain.models import Job
from cluster_agents.errors import JobNotFound, Unauthenticated
from cluster_agents.store.jobs import jobs
from cluster_agents.web.auth import current_user, job_token
from cluster_agents.web.request import current


def _running(job: Job | None) -> Job:
    if job is None or not job.running:
        raise Unauthenticated()
    return job


def authenticated_job() -> Job:
    """The running job whose token came with the request (see the module docstring)."""
    request = current()
    param = request.params().get("job_token")
    explicit = request.header("job-token") or (param if isinstance(param, str) and param else None)
    if explicit:
        return _running(jobs().get_job_by_digest(digest(explicit)))
    bearer = job_token(request)  # without the two above, only the Bearer credential is left
    if bearer:
        job = jobs().get_job_by_digest(digest(bearer))
        if job is not None:
            return _running(job)
    current_user()  # not a job: a user's credentials, which fail here if they are not valid
    raise JobNotFound()
