"""Write sample API Gateway REST events (for `sam local invoke -e` and the tests) for routes.

    python -m devtools.sample_events WorldFunction     # writes events/world/<EventName>.json

Path parameters and bodies come from SAMPLE_VALUES; the credential is SAMPLE_TOKEN, which the
tests seed as root's token. An event that exists is left alone (it may have been made runnable in
the order of events/ORDER, devtools.sam_events): only new routes get a file, to edit and add there."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from devtools.apigw import rest_event
from devtools.template import ROOT, load_template

SAMPLE_TOKEN = "glpat-sample-events-token01"
SAMPLE_VALUES = {
    "id": "root%2Fsample",
    "user_id": "1",
    "agent_id": "1",
    "token_id": "1",
    "url_configuration_id": "1",
    "job_id": "1",
}


def write_events(logical_id: str, bodies: dict[str, dict] | None = None) -> list[Path]:
    function = load_template()["Resources"][logical_id]["Properties"]
    folder = ROOT / "events" / Path(function["CodeUri"]).name
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, event in function.get("Events", {}).items():
        props = event["Properties"]
        resource, method = props["Path"], props["Method"].upper()
        params = {
            part[1:-1]: SAMPLE_VALUES.get(part[1:-1], "1") for part in resource.split("/") if part.startswith("{")
        }
        raw_path = resource
        for key, value in params.items():
            raw_path = raw_path.replace("{" + key + "}", value)
        body = (bodies or {}).get(name)
        headers = [("Host", "gitlab.example.com"), ("X-Forwarded-Proto", "https"), ("PRIVATE-TOKEN", SAMPLE_TOKEN)]
        if body is not None:
            headers.append(("Content-Type", "application/json"))
        sample = rest_event(
            method,
            raw_path,
            resource,
            params,
            headers,
            "",
            json.dumps(body) if body is not None else None,
            stage="prod",
        )
        sample["requestContext"]["requestId"] = sample["requestContext"]["extendedRequestId"] = f"sample-{name}"
        sample["requestContext"]["requestTimeEpoch"] = 1767225600000
        path = folder / f"{name}.json"
        if path.exists():
            continue
        path.write_text(json.dumps(sample, indent=2) + "\n")
        written.append(path)
    return written


if __name__ == "__main__":
    for logical_id in sys.argv[1:]:
        for path in write_events(logical_id):
            print(path.relative_to(ROOT))
