"""The load run's traffic (run by bench/load.py as ``locust -f bench/locustfile.py``; never
imported by the bench itself: locust patches the standard library with gevent on import).

A mixed, read-mostly shape like GitLab's: the agent server (KAS) asking ``agent_info`` for its
agents and ``/job/allowed_agents`` for CI jobs dominates; people listing and reading agents and
tokens come next; creations are rare. ``LOAD_CONFIG`` names a JSON file with the world bench/load.py
made (tokens, ids, the KAS secret) and the request budget; the run stops at the budget or the time
limit, whichever comes first."""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import time
import uuid

import jwt
from locust import FastHttpUser, constant, task

CONFIG = json.loads(open(os.environ["LOAD_CONFIG"], encoding="utf-8").read())  # noqa: SIM115
_KAS_KEY = base64.b64decode(CONFIG["kas_secret"])
_sent = itertools.count(1)


def _kas_jwt() -> str:
    now = int(time.time())
    return jwt.encode({"iss": "gitlab-kas", "aud": "gitlab", "iat": now, "exp": now + 5}, _KAS_KEY, algorithm="HS256")


class GitLabTraffic(FastHttpUser):
    wait_time = constant(0)

    def _budget(self) -> None:
        if next(_sent) > CONFIG["max_requests"]:
            self.environment.runner.quit()

    def _private(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": CONFIG["maintainer_token"]}

    @task(40)
    def agent_info(self) -> None:
        self._budget()
        token = random.choice(CONFIG["agent_tokens"])
        headers = {"Gitlab-Kas-Api-Request": _kas_jwt(), "Authorization": f"Bearer {token}"}
        self.client.get("/api/v4/internal/kubernetes/agent_info", headers=headers, name="GET agent_info")

    @task(30)
    def allowed_agents(self) -> None:
        self._budget()
        self.client.get(
            "/api/v4/job/allowed_agents",
            headers={"JOB-TOKEN": random.choice(CONFIG["job_tokens"])},
            name="GET /job/allowed_agents",
        )

    @task(10)
    def list_agents(self) -> None:
        self._budget()
        self.client.get(
            f"/api/v4/projects/{CONFIG['project_id']}/cluster_agents",
            headers=self._private(),
            name="GET /projects/:id/cluster_agents",
        )

    @task(6)
    def get_agent(self) -> None:
        self._budget()
        agent = random.choice(CONFIG["agent_ids"])
        self.client.get(
            f"/api/v4/projects/{CONFIG['project_id']}/cluster_agents/{agent}",
            headers=self._private(),
            name="GET /projects/:id/cluster_agents/:agent_id",
        )

    @task(5)
    def list_tokens(self) -> None:
        self._budget()
        agent = random.choice(CONFIG["agent_ids"])
        self.client.get(
            f"/api/v4/projects/{CONFIG['project_id']}/cluster_agents/{agent}/tokens",
            headers=self._private(),
            name="GET /projects/:id/cluster_agents/:agent_id/tokens",
        )

    @task(5)
    def current_user(self) -> None:
        self._budget()
        self.client.get("/api/v4/user", headers=self._private(), name="GET /user")

    @task(2)
    def agent_configuration(self) -> None:
        self._budget()
        body = {
            "agent_id": random.choice(CONFIG["agent_ids"]),
            "agent_config": {"ci_access": {"groups": [{"id": CONFIG["group_path"]}]}},
        }
        self.client.post(
            "/api/v4/internal/kubernetes/agent_configuration",
            json=body,
            headers={"Gitlab-Kas-Api-Request": _kas_jwt()},
            name="POST agent_configuration",
        )

    @task(1)
    def create_and_delete_agent(self) -> None:
        self._budget()
        base = f"/api/v4/projects/{CONFIG['scratch_id']}/cluster_agents"
        with self.client.post(
            base,
            json={"name": f"load-{uuid.uuid4().hex[:12]}"},
            headers=self._private(),
            name="POST /projects/:id/cluster_agents",
            catch_response=True,
        ) as made:
            if made.status_code != 201:
                made.failure(f"{made.status_code}")
                return
            agent_id = made.json()["id"]
        self._budget()
        self.client.delete(
            f"{base}/{agent_id}", headers=self._private(), name="DELETE /projects/:id/cluster_agents/:agent_id"
        )
