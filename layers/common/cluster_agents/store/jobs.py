"""CI jobs in the directory table (key layout: ``store/keys.py``), keyed by their token's digest."""

from __future__ import annotations

import functools

from cluster_agents.domain.models import Job
from cluster_agents.settings import get_settings
from cluster_agents.store import directory_items as stored
from cluster_agents.store import dynamo, ids
from cluster_agents.store.keys import JOB_COUNTER, PIPELINE_COUNTER_ATTRIBUTE, job_key


class JobRepository:
    """CI jobs: number, create, find by token digest, finish."""

    def __init__(self, table: str) -> None:
        self.table = table

    def next_ids(self, with_pipeline: bool) -> tuple[int, int | None]:
        """A new job id and, when asked, a new pipeline id: one UpdateItem of the job counter."""
        if not with_pipeline:
            return ids.next_id(self.table, JOB_COUNTER), None
        counted = ids.next_ids(self.table, JOB_COUNTER, ("value", PIPELINE_COUNTER_ATTRIBUTE))
        return counted["value"], counted[PIPELINE_COUNTER_ATTRIBUTE]

    def create(self, job: Job, token_digest: str) -> None:
        dynamo.transact([dynamo.put_action(self.table, stored.job_item(job, token_digest), "attribute_not_exists(pk)")])

    def get_job_by_digest(self, token_digest: str) -> Job | None:
        """The job whatever its status: every caller checks that it is running."""
        item = dynamo.get(self.table, *job_key(token_digest))
        return stored.job(item) if item else None

    def finish(self, token_digest: str, status: str) -> bool:
        """Move a running job to ``status``; False when it was not running."""
        try:
            dynamo.transact(
                [
                    dynamo.update_action(
                        self.table,
                        *job_key(token_digest),
                        "SET #s = :status",
                        "#s = :running",
                        names={"#s": "status"},
                        values={":status": status, ":running": "running"},
                    )
                ]
            )
        except dynamo.TransactionCancelled:
            return False
        return True


@functools.cache
def jobs() -> JobRepository:
    return JobRepository(get_settings().directory_table)
