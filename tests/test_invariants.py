"""The invariant checker operators run (make check) finds each kind of violation."""

from __future__ import annotations

from cluster_agents.ops.invariants import check_items


def _agent(agent_id=1, project_id=7, name="a", active_tokens=0, is_receptive=False):
    return [
        {"pk": f"AGENT#{agent_id}", "sk": "A", "id": agent_id, "project_id": project_id, "name": name,
         "active_tokens": active_tokens, "is_receptive": is_receptive},
        {"pk": f"PROJECT#{project_id}", "sk": f"AGENT#{name}", "id": agent_id, "is_receptive": is_receptive},
    ]


def _token(agent_id, token_id):
    return [
        {"pk": f"AGENT#{agent_id}", "sk": f"AT#{token_id:012d}", "id": token_id},
        {"pk": f"AGENTTOKEN#d{token_id}", "sk": "AGENTTOKEN", "agent_id": agent_id, "token_id": token_id},
    ]


def test_a_consistent_table_passes():
    items = _agent(active_tokens=2) + _token(1, 1) + _token(1, 2) + [
        {"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 1},
        {"pk": "AGENT#1", "sk": "RT#000000000003", "id": 3},
    ]
    report = check_items(items)
    assert report.ok, report.violations
    assert (report.items_read, report.agents) == (8, 1)


def test_every_kind_of_violation_is_reported():
    items = (
        _agent(active_tokens=1, is_receptive=True) + _token(1, 1) + _token(1, 2) + _token(1, 3)
        + [{"pk": "PROJECT#7", "sk": "#STATS", "agent_count": 3}]
        + [{"pk": "AGENT#9", "sk": "RT#000000000001"}]
        + [{"pk": "CIACCESS#project#5", "sk": "AGENT#000000000009", "agent_id": 9}]
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
