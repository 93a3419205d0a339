"""BENCHMARKS.md's "Bounded cost" section: bench/worstcase.py's table of worst-case CPU
per write route and bench/ci_access_cost.py's allowed_agents reads."""

from __future__ import annotations

from bench.scenarios import RouteKey, show
from bench.worstcase import CPU_LIMIT, EXPLAINED, HOSTILE, MEDIAN_MULTIPLE, RouteCost, write_routes


def render_section(costs: list[RouteCost], agents: list, routes: set[RouteKey] | None = None) -> list[str]:
    """The "Bounded cost" section: the worst-case CPU table, then the allowed_agents reads."""
    from bench.ci_access_cost import agents_one_item_holds

    if not costs and not agents:
        return []
    lines = ["## Bounded cost (worst-case CPU per write route)", ""]
    if costs:
        worst = max(costs, key=lambda cost: cost.worst)
        unexplained = [c for c in costs if c.median and c.worst > MEDIAN_MULTIPLE * c.median and c.key not in EXPLAINED]
        errors = [f"`{c.name}` ({', '.join(c.server_errors)})" for c in costs if c.server_errors]
        lines += [
            f"Target: no request above {CPU_LIMIT * 1000:.0f} ms of handler CPU on this machine "
            f"({_verdict(worst.worst <= CPU_LIMIT)}: the worst is {worst.worst * 1000:.1f} ms, `{worst.name}`, "
            f"{worst.worst_case}), and above {MEDIAN_MULTIPLE}x the route's median only where explained below "
            f"({_verdict(not unexplained)}); no hostile case answered 5xx ({_verdict(not errors)}"
            f"{': ' + ', '.join(errors) if errors else ''}).",
            "",
            "CPU is `time.process_time()` around the in-process handler call (the handler and its AWS clients; "
            "moto runs in another process). Each case is sent once; the corpus is `HOSTILE` in "
            "`bench/worstcase.py`: for every route the largest body the API reads, the deepest JSON the parser "
            "accepts, a 5,000-digit id in the path, and the route's own worst inputs (longest names, largest keys "
            "and certificates, many `environments` patterns, 1,000 ci_access entries).",
            "",
            "| route | median request, ms | worst case, ms | x median | worst case | statuses |",
            "|---|---:|---:|---:|---|---|",
        ]
        for cost in costs:
            ratio = f"{cost.worst / cost.median:.1f}x" if cost.median else "-"
            statuses = ", ".join(sorted({str(status) for status in cost.statuses.values()}))
            median = f"{cost.median * 1000:.1f}" if cost.median is not None else "-"
            lines.append(
                f"| `{cost.name}` | {median} | {cost.worst * 1000:.1f} | {ratio} | {cost.worst_case} | {statuses} |"
            )
        lines.append("")
        if EXPLAINED:
            lines += ["Where the worst case may pass 10x the median:", ""]
            lines += [f"- `{show(key)}`: {why}" for key, why in EXPLAINED.items()]
            lines.append("")
        if routes is not None:
            missing = sorted(write_routes(routes) - set(HOSTILE))
            if missing:
                lines += [f"Write routes without a corpus entry: {', '.join(f'`{show(k)}`' for k in missing)}", ""]
    if agents:
        least, usual = agents_one_item_holds()
        lines += [
            "### `/job/allowed_agents` with many agents authorising one group",
            "",
            'Each agent authorises the job\'s top-level group with `{"default_namespace": "ns-<n>"}`. Bytes are '
            "DynamoDB's item sizes of everything read (what read capacity is charged on); the response is the "
            "JSON body.",
            "",
            "| agents | allowed | round trips | calls | items read | bytes read | response bytes | CPU, ms |",
            "|---:|---:|---:|---|---:|---:|---:|---:|",
        ]
        for row in agents:
            lines.append(
                f"| {row.agents:,} | {row.allowed:,} | {row.round_trips} | "
                f"{row.sequence.replace('|', chr(92) + '|')} | {row.items_read:,} | {row.bytes_read:,} | "
                f"{row.response_bytes:,} | {row.cpu * 1000:.1f} |"
            )
        lines += [
            "",
            f"One project or group holds the authorisations of at least **{least:,} agents** whatever "
            f"they configure (an entry is at most {_inline_limit()} bytes of configuration inline; a longer "
            f"one is read from the agent's own item), about {usual:,} with `{{}}` entries; every agent "
            "authorising it adds its entry to the item the job reads, so the bytes read grow with the "
            "agents in the answer, not with anything else stored.",
            "",
        ]
    return lines


def _inline_limit() -> int:
    from cluster_agents.store.ci_access import INLINE_LIMIT

    return INLINE_LIMIT


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"
