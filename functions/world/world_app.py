"""The GitLab world around the agents (SPEC §5, §6.2, §7.4), one function whose routes come in
groups, one Powertools ``Router`` each: metadata, users, personal access tokens, groups,
projects, members, and CI jobs (admin create, runner-style finish)."""

from __future__ import annotations

import world_groups
import world_jobs
import world_members
import world_metadata
import world_projects
import world_tokens
import world_users
from cluster_agents.web.app import create_app, entrypoint

app = create_app()
for _routes in (world_metadata, world_users, world_tokens, world_groups, world_projects, world_members, world_jobs):
    app.include_router(_routes.router)

lambda_handler = entrypoint(app)
