"""End to end: python-gitlab (library and CLI) manages agents and agent tokens against the local
API server (make serve), as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import E2E_ROOT_TOKEN

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("local_api")]

LIMIT = "An agent can have only two active tokens at a time"


@pytest.fixture(scope="module")
def gl(local_api):
    import gitlab

    client = gitlab.Gitlab(local_api.url, private_token=E2E_ROOT_TOKEN, retry_transient_errors=True)
    client.auth()
    return client


@pytest.fixture
def project(gl):
    return gl.projects.create({"name": f"clusters-{uuid.uuid4().hex[:8]}"})


def test_python_gitlab_manages_agents(gl, project):
    import gitlab

    created = project.cluster_agents.create({"name": "agent-b"})
    project.cluster_agents.create({"name": "agent-a"})
    assert created.name == "agent-b"
    assert created.config_project["path_with_namespace"] == project.path_with_namespace
    assert created.is_receptive is False and created.created_by_user_id == gl.user.id
    assert [a.name for a in project.cluster_agents.list(get_all=True)] == ["agent-a", "agent-b"]
    # python-gitlab follows Link; per_page 1 makes it walk two pages
    assert [a.name for a in project.cluster_agents.list(per_page=1, get_all=True)] == ["agent-a", "agent-b"]
    pager = project.cluster_agents.list(per_page=1, iterator=True)
    assert (pager.total, pager.total_pages) == (2, 2)
    assert [a.name for a in pager] == ["agent-a", "agent-b"]

    fetched = project.cluster_agents.get(created.id)
    assert fetched.name == "agent-b" and fetched.created_at == created.created_at
    by_path = gl.projects.get(project.path_with_namespace, lazy=True).cluster_agents.get(created.id)
    assert by_path.id == created.id

    with pytest.raises(gitlab.GitlabCreateError) as taken:
        project.cluster_agents.create({"name": "agent-b"})
    assert taken.value.response_code == 400
    assert "Name has already been taken" in str(taken.value.error_message)
    with pytest.raises(gitlab.GitlabCreateError) as invalid:
        project.cluster_agents.create({"name": "Agent_B"})
    assert "Name can contain only lowercase letters" in str(invalid.value.error_message)

    fetched.delete()
    with pytest.raises(gitlab.GitlabGetError) as gone:
        project.cluster_agents.get(created.id)
    assert gone.value.response_code == 404
    project.cluster_agents.delete(project.cluster_agents.list(get_all=True)[0].id)
    assert project.cluster_agents.list(get_all=True) == []


def test_python_gitlab_manages_agent_tokens(gl, project):
    import gitlab

    agent = project.cluster_agents.create({"name": "tokened"})
    path = f"/projects/{project.id}/cluster_agents/{agent.id}/tokens"
    first = gl.http_post(path, post_data={"name": "first", "description": "Some token"})
    second = gl.http_post(path, post_data={"name": "second"})
    assert first["token"].startswith("glagent-") and len(first["token"]) == 58
    assert (first["description"], second["description"], first["last_used_at"]) == ("Some token", None, None)
    with pytest.raises(gitlab.GitlabHttpError) as limit:
        gl.http_post(path, post_data={"name": "third"})
    assert limit.value.response_code == 400 and LIMIT in str(limit.value.error_message)

    listed = gl.http_list(path, get_all=True)
    assert [t["id"] for t in listed] == [first["id"], second["id"]]
    assert all("token" not in t and "last_used_at" not in t for t in listed)
    single = gl.http_get(f"{path}/{first['id']}")
    assert single["last_used_at"] is None and single["status"] == "active"

    gl.http_delete(f"{path}/{first['id']}")
    with pytest.raises(gitlab.GitlabHttpError) as revoked:
        gl.http_get(f"{path}/{first['id']}")
    assert revoked.value.response_code == 404
    gl.http_delete(f"{path}/{first['id']}")  # revoking again is fine
    third = gl.http_post(path, post_data={"name": "third"})
    assert [t["id"] for t in gl.http_list(path, get_all=True)] == [second["id"], third["id"]]

    agent.delete()
    with pytest.raises(gitlab.GitlabHttpError) as gone:
        gl.http_list(path, get_all=True)
    assert gone.value.response_code == 404


def test_gitlab_cli_lists_agents(local_api, gl, project, tmp_path: Path):
    for name in ("cli-two", "cli-one"):
        project.cluster_agents.create({"name": name})
    config = tmp_path / "python-gitlab.cfg"
    config.write_text(
        f"[global]\ndefault = local\n\n[local]\nurl = {local_api.url}\nprivate_token = {E2E_ROOT_TOKEN}\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "PYTHON_GITLAB_CFG": str(config)}
    env.pop("GITLAB_PRIVATE_TOKEN", None)
    env.pop("GITLAB_URL", None)
    cli = str(Path(sys.executable).with_name("gitlab"))
    result = subprocess.run(
        [cli, "-o", "json", "project-cluster-agent", "list", "--project-id", str(project.id), "--get-all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [a["name"] for a in json.loads(result.stdout)] == ["cli-one", "cli-two"]

    # The same with options only (no configuration file: HOME is empty).
    bare = {key: value for key, value in env.items() if key != "PYTHON_GITLAB_CFG"}
    result = subprocess.run(
        [
            cli,
            "--server-url",
            local_api.url,
            "--private-token",
            E2E_ROOT_TOKEN,
            "-o",
            "json",
            "project-cluster-agent",
            "get",
            "--project-id",
            str(project.id),
            "--id",
            str(project.cluster_agents.list(get_all=True)[0].id),
        ],
        capture_output=True,
        text=True,
        env=bare,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "cli-one"
