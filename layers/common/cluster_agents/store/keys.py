"""Every key of both tables, built in one place: the layout each repository of ``store/`` follows.

DirectoryTable (pk / sk):
  USER#<id> / USER                 the user (``store/users.py``)
  USERNAME#<name> / USERNAME       uniqueness of usernames (lower case), -> user_id
  EMAIL#<email> / EMAIL            uniqueness of e-mail addresses, -> user_id
  NAMESPACE#<full path> / NAMESPACE  uniqueness of user and group paths, -> kind, id
                                   (``store/namespaces.py``)
  PAT#<digest> / PAT               a personal access token, with a snapshot of its user;
                                   last_used_at, written at most once a minute
                                   (``store/personal_access_tokens.py``)
  PATID#<id> / PATID               token id -> digest (for revocation by id)
  GROUP#<id> / GROUP               a group, with its ancestors (``store/groups.py``)
  PROJECT#<id> / PROJECT           a project, with its namespace and groups (``store/projects.py``)
  PROJECTPATH#<full path> / PROJECTPATH  -> project_id
  MEMBERS#<project|group>#<id> / USER#<user id, 12 digits>  a membership, with a snapshot of its
                                   user (``store/memberships.py``)
  JOB#<digest> / JOB               a CI job, keyed by its token's digest (``store/jobs.py``)
  COUNTER / <entity>               atomic id counters (``value``): ``namespace`` (users and groups
                                   share one id space), ``project``, ``personal_access_token``,
                                   ``job``; ``COUNTER / job`` also counts pipelines (``pipeline``),
                                   so a job and its pipeline get their ids in one UpdateItem (the
                                   ``COUNTER / pipeline`` item of earlier versions is no longer
                                   read: a table carried over from them numbers new pipelines from
                                   1 again)
Groups and projects never change once created, so each container caches them.

AgentsTable (pk / sk) - the contract every adapter of this table follows:
  COUNTER / agent | agent_token | url_configuration      atomic id counters
  AGENT#<id> / A                    the agent (project_id, name, created_at, created_by_user_id,
                                    is_receptive, active_tokens, last_token_id, version, updated_at)
                                    (``store/agents.py``)
  AGENT#<id> / AT#<token id:012d>   an active token (id, agent_id, project_id, name, description,
                                    status, created_at, created_by_user_id, token_digest; last_used_at
                                    once used - the agent server SETs it, with attribute_exists(pk))
                                    (``store/agent_tokens.py``)
  AGENT#<id> / RT#<token id:012d>   a revoked token, kept (no token_digest); never read when listing
                                    active ones
  AGENT#<id> / U                    its URL configuration (one per agent: a fixed key)
                                    (``store/url_configurations.py``)
  AGENT#<id> / CA                   its user_access state: configuration and the projects and groups
                                    it authorises (``store/user_access.py``); absent when none. "CA"
                                    sorts after "AT#..." and before "CI#...": read with the ci_access
                                    mirrors, never with the active tokens
  RECEPTIVE / AGENT#<agent id:012d>   the receptive-agents index: a copy of every URL configuration
                                    with what the agent server's list needs (agent_id, id, url, ca_cert,
                                    tls_host, client_cert and the sealed private material), put and
                                    deleted in the same transaction as ``U`` (also in the agent's
                                    cascade), so one Query lists them in agent id order
  RECEPTIVE#GENERATION / GENERATION  ``generation``: raised by one in every transaction that puts or
                                    deletes an index entry, so a container that keeps a copy of the
                                    index knows from this one small item whether its copy is current
  AGENT#<id> / CI#<project|group>#<id>   mirror of one ci_access authorisation (found again on delete)
  PROJECT#<project id> / AGENT#<name>    the name index: names unique per project, agents listed
                                    in name order (a copy of the agent's fields)
  PROJECT#<project id> / #STATS     agent_count (X-Total without reading the agents)
  AGENTTOKEN#<digest> / AGENTTOKEN  token lookup -> agent_id, token_id, project_id (deleted on
                                    revocation and with the agent, in the same transaction)
  CIACCESS#<project|group>#<id> / ALL   every agent's ci_access authorisation of that project or
                                    group, one top-level attribute each: a<agent id> = {p: the
                                    agent's configuration project id, c: its configuration (JSON)}
                                    (``store/ci_access.py``); an item left with no entry may stay

Every limit is a condition in the write itself: the agent item's ``active_tokens < 2`` in the
token-creating transaction, ``attribute_not_exists`` on the name index and on ``U``. Querying
``AGENT#<id>`` with ``begins_with(sk, "A")`` reads the agent and its active tokens only."""

from __future__ import annotations

Key = tuple[str, str]

# ---------------------------------------------------------------- DirectoryTable
GROUP_PK_PREFIX = "GROUP#"
MEMBER_SK_PREFIX = "USER#"
COUNTER_PK = "COUNTER"  # the partition of every id counter item
NAMESPACE_COUNTER = "namespace"  # users and groups: one id space, as GitLab's namespaces
PROJECT_COUNTER = "project"
PERSONAL_ACCESS_TOKEN_COUNTER = "personal_access_token"
JOB_COUNTER = "job"
PIPELINE_COUNTER_ATTRIBUTE = "pipeline"  # of the job counter item


def user_key(user_id: int) -> Key:
    return f"USER#{user_id}", "USER"


def username_key(username: str) -> Key:
    return f"USERNAME#{username.lower()}", "USERNAME"


def email_key(email: str) -> Key:
    return f"EMAIL#{email.lower()}", "EMAIL"


def namespace_key(full_path: str) -> Key:
    return f"NAMESPACE#{full_path.lower()}", "NAMESPACE"


def group_key(group_id: int) -> Key:
    return f"{GROUP_PK_PREFIX}{group_id}", "GROUP"


def project_key(project_id: int) -> Key:
    return f"PROJECT#{project_id}", "PROJECT"


def project_path_key(full_path: str) -> Key:
    return f"PROJECTPATH#{full_path.lower()}", "PROJECTPATH"


def members_pk(source_kind: str, source_id: int) -> str:
    return f"MEMBERS#{source_kind}#{source_id}"


def member_sk(user_id: int) -> str:
    return f"{MEMBER_SK_PREFIX}{user_id:012d}"


def member_key(source_kind: str, source_id: int, user_id: int) -> Key:
    return members_pk(source_kind, source_id), member_sk(user_id)


def job_key(token_digest: str) -> Key:
    return f"JOB#{token_digest}", "JOB"


def pat_key(token_digest: str) -> Key:
    return f"PAT#{token_digest}", "PAT"


def pat_id_key(token_id: int) -> Key:
    return f"PATID#{token_id}", "PATID"


# ---------------------------------------------------------------- AgentsTable
AGENT_SK = "A"
ACTIVE_TOKEN_PREFIX = "AT#"
REVOKED_TOKEN_PREFIX = "RT#"
URL_CONFIGURATION_SK = "U"
USER_ACCESS_SK = "CA"
RECEPTIVE_PK = "RECEPTIVE"
RECEPTIVE_GENERATION_KEY: Key = ("RECEPTIVE#GENERATION", "GENERATION")
CI_ACCESS_MIRROR_PREFIX = "CI#"
CI_ACCESS_SK = "ALL"
CI_ACCESS_ENTRY_PREFIX = "a"  # an agent's entry in a CIACCESS# item: the attribute a<agent id>
STATS_SK = "#STATS"
NAME_INDEX_PREFIX = "AGENT#"
AGENT_COUNTER = "agent"
AGENT_TOKEN_COUNTER = "agent_token"
URL_CONFIGURATION_COUNTER = "url_configuration"

# The name index and #STATS of one project, in one key range: "#STATS" sorts before every
# "AGENT#<name>" ('#' < 'A'), and names are [a-z0-9-], so every index key is below "AGENT$".
PROJECT_INDEX_RANGE = (STATS_SK, "AGENT$")


def agent_pk(agent_id: int) -> str:
    return f"AGENT#{agent_id}"


def agent_key(agent_id: int) -> Key:
    return agent_pk(agent_id), AGENT_SK


def agent_project_pk(project_id: int) -> str:
    """The partition of one project's agents: its name index and ``#STATS``."""
    return f"PROJECT#{project_id}"


def stats_key(project_id: int) -> Key:
    return agent_project_pk(project_id), STATS_SK


def name_index_key(project_id: int, name: str) -> Key:
    return agent_project_pk(project_id), f"{NAME_INDEX_PREFIX}{name}"


def receptive_key(agent_id: int) -> Key:
    """The agent's entry in the receptive-agents index (zero-padded: key order is id order)."""
    return RECEPTIVE_PK, f"AGENT#{agent_id:012d}"


def token_digest_key(token_digest: str) -> Key:
    return f"AGENTTOKEN#{token_digest}", "AGENTTOKEN"


def token_sk(prefix: str, token_id: int) -> str:
    return f"{prefix}{token_id:012d}"


def url_configuration_key(agent_id: int) -> Key:
    return agent_pk(agent_id), URL_CONFIGURATION_SK


def user_access_key(agent_id: int) -> Key:
    return agent_pk(agent_id), USER_ACCESS_SK


def ci_access_key(kind: str, source_id: int) -> Key:
    """The item holding every agent's authorisation of one project or group."""
    return f"CIACCESS#{kind}#{source_id}", CI_ACCESS_SK


def ci_access_entry(agent_id: int) -> str:
    """The attribute of a ``CIACCESS#`` item that holds one agent's authorisation."""
    return f"{CI_ACCESS_ENTRY_PREFIX}{agent_id}"


def mirror_sk(kind: str, source_id: int) -> str:
    """The sort key of an agent's mirror of its authorisation of one project or group."""
    return f"{CI_ACCESS_MIRROR_PREFIX}{kind}#{source_id}"


def ci_access_key_of_mirror(mirror: str) -> Key:
    """The ``CIACCESS#`` item that a ``CI#<kind>#<id>`` mirror in the agent's partition has its entry in."""
    return f"CIACCESS#{mirror[len(CI_ACCESS_MIRROR_PREFIX) :]}", CI_ACCESS_SK
