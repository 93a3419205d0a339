"""The invariant checker operators run (make check) finds each kind of violation."""

from __future__ import annotations

from cluster_agents.ops.invariants import check_items


def _agent(agent_id=1, project_id=7, name="a", active_tokens=0, is_receptive=False):
    return [
        {
            "pk": f"AGENT#{agent_id}",
            "sk": "A",
            "id": agent_id,
            "project_id": project_id,
            "name": name,
            "active_tokens": active_tokens,
            "is_receptive": is_receptive,
        },
        {"pk": f"PROJECT#{project_id}", "sk": f"AGENT#{name}", "id": agent_id, "is_receptive": is_receptive},
    ]


def _token(agent_id, token_id):
    return [
        {"pk": f"AGENT#{agent_id}", "sk": f"AT#{token_id:012d}", "id": token_id},
        {"pk": f"AGENTTOKEN#d{token_id}", "sk": "AGENTTOKEN", "agent_id": agent_id, "token_id": token_id},
    ]


def test_a_consistent_table_passes():
    items = (
        _agent(active_tokens=2)
        + _token(1, 1)
        + _token(1, 2)
        + [
            {"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 1},
            {"pk": "AGENT#1", "sk": "RT#000000000003", "id": 3},
        ]
    )
    report = check_items(items)
    assert report.ok, report.violations
    assert (report.items_read, report.agents) == (8, 1)


def test_every_kind_of_violation_is_reported():
    items = (
        _agent(active_tokens=1, is_receptive=True)
        + _token(1, 1)
        + _token(1, 2)
        + _token(1, 3)
        + [{"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 3}]
        + [{"pk": "AGENT#9", "sk": "RT#000000000001"}]
        + [{"pk": "CIACCESS#project#5", "sk": "ALL", "a9": {"p": 7, "c": "{}"}}]
        + [{"pk": "AGENTTOKEN#x", "sk": "AGENTTOKEN", "agent_id": 9, "token_id": 1}]
    )
    text = "\n".join(check_items(items).violations)
    assert "3 active tokens (limit 2)" in text
    assert "active_tokens counter 1 != 3" in text
    assert "is_receptive=True but URL configuration missing" in text
    assert "agent_count 3 != 1" in text
    assert "left of a deleted agent" in text
    assert "ci_access of a deleted agent" in text
    assert "no such active token" in text


def _authorisation(agent_id, project_id, kind, source_id, configuration="{}"):
    """An agent's mirror of one ci_access authorisation (its entry goes in the source's ALL item)."""
    return {
        "pk": f"AGENT#{agent_id}",
        "sk": f"CI#{kind}#{source_id}",
        "agent_id": agent_id,
        "agent_project_id": project_id,
        "kind": kind,
        "source_id": source_id,
        "configuration": configuration,
    }


def test_ci_access_entries_and_their_mirrors_pass_and_an_empty_item_stays():
    items = (
        _agent()
        + _agent(agent_id=2, name="b")
        + [
            {"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 2},
            _authorisation(1, 7, "group", 4, '{"default_namespace":"x"}'),
            _authorisation(2, 7, "group", 4),
            {
                "pk": "CIACCESS#group#4",
                "sk": "ALL",
                "a1": {"p": 7, "c": '{"default_namespace":"x"}'},
                "a2": {"p": 7, "c": "{}"},
            },
            {"pk": "CIACCESS#project#5", "sk": "ALL"},  # every entry removed: the item may stay
        ]
    )
    report = check_items(items)
    assert report.ok, report.violations


def test_ci_access_entries_without_their_mirror_and_the_reverse_are_reported():
    items = (
        _agent()
        + _agent(agent_id=2, name="b")
        + [
            {"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 2},
            _authorisation(1, 7, "group", 4),  # no entry in CIACCESS#group#4
            _authorisation(2, 7, "project", 5, '{"a":1}'),
            {
                "pk": "CIACCESS#project#5",
                "sk": "ALL",
                "a1": {"p": 7, "c": "{}"},  # no mirror
                "a2": {"p": 7, "c": "{}"},
            },  # a different configuration than its mirror's
            {"pk": "CIACCESS#project#6", "sk": "ALL", "a2": {"p": 8, "c": "{}"}},  # not the agent's project
            {"pk": "CIACCESS#project#6", "sk": "AGENT#000000000002", "agent_id": 2},  # the layout of one item per agent
        ]
    )
    text = "\n".join(check_items(items).violations)
    assert "AGENT#1 CI#group#4: mirror without its entry in CIACCESS#group#4 ALL" in text
    assert "CIACCESS#project#5 ALL: agent 1's entry has no mirror AGENT#1 CI#project#5" in text
    assert "CIACCESS#project#5 ALL: agent 2's entry and its mirror disagree on the configuration" in text
    assert "CIACCESS#project#6 ALL: agent 2's entry names project 8, not its project 7" in text
    assert "CIACCESS#project#6 AGENT#000000000002: not a ci_access item" in text


def _configuration(agent_id, configuration_id, **fields):
    """A URL configuration and its entry in the receptive-agents index."""
    copied = {
        "agent_id": agent_id,
        "id": configuration_id,
        "url": "grpcs://a.example.com",
        "ca_cert": b"pem",
        "private_key_encrypted": "v1.x.y.z",
        **fields,
    }
    return [
        {"pk": f"AGENT#{agent_id}", "sk": "U", "project_id": 7, "public_key": b"k" * 32, **copied},
        {"pk": "RECEPTIVE", "sk": f"AGENT#{agent_id:012d}", **copied},
    ]


def test_receptive_index_entries_matching_their_configurations_pass():
    items = (
        _agent(is_receptive=True)
        + _agent(agent_id=2, name="b", is_receptive=True)
        + [{"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 2}]
        + _configuration(1, 10)
        + _configuration(2, 11, tls_host="a.example.com")
    )
    report = check_items(items)
    assert report.ok, report.violations


def test_receptive_index_entries_missing_stale_or_differing_are_reported():
    stale_copy = _configuration(2, 11)
    stale_copy[1]["url"] = "grpcs://elsewhere.example.com"
    items = (
        _agent(is_receptive=True)
        + _agent(agent_id=2, name="b", is_receptive=True)
        + _agent(agent_id=3, name="c", is_receptive=True)
        + [{"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 3}]
        + _configuration(1, 10)[:1]  # no index entry
        + stale_copy
        + _configuration(3, 12)
        + [
            {"pk": "RECEPTIVE", "sk": "AGENT#000000000004", "agent_id": 4, "id": 13},  # agent 4 has none
            {"pk": "RECEPTIVE", "sk": "AGENT#5", "agent_id": 5},
        ]
    )
    violations = check_items(items).violations
    assert violations == [
        "RECEPTIVE AGENT#000000000002: entry differs from AGENT#2 U in url",
        "RECEPTIVE AGENT#000000000004: entry of agent 4, which has no URL configuration",
        "RECEPTIVE AGENT#5: not a receptive-agents entry (AGENT#<agent id:012d>)",
        "AGENT#1 U: URL configuration missing from the receptive-agents index",
    ], violations
