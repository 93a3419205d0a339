"""The sample events of events/ as one runnable set: the order they run in, the status each answers,
and the values no file can hold (a fresh KAS JWT, tokens and ids made earlier in the run).

    .venv/bin/python -m devtools.sam_events render events/kas/GetAgentInfo.json \\
        --value CreateAgentToken.token=glagent-... | sam local invoke KasFunction -e -

events/ORDER lists every event as ``<path under events/> <status>``, in the order they run on a
store holding only root and its token (devtools.sample_events.SAMPLE_TOKEN): the world first, then
agents, tokens, URL configurations, the agent server, CI jobs, and the deletions last. An event
file may hold placeholders, filled in as its text is read:

* ``{{KAS_JWT}}``: a JWT as the agent server signs it (HS256, iss gitlab-kas, aud gitlab, valid for
  a minute), with the local KAS secret (devtools/sam_local_env.json);
* ``{{EventName.field}}``: ``field`` of the JSON body an earlier event answered, e.g.
  ``{{CreateJob.token}}`` (the job token) or ``{{CreateAgent.id}}``.

`make test-sam-local` runs the set through `sam local invoke`; tests/test_events.py runs the same
set in process, so the order and the statuses are checked on every `make test`."""

from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.template import ROOT, functions

EVENTS_DIR = ROOT / "events"
ORDER_FILE = EVENTS_DIR / "ORDER"
LOCAL_ENV_FILE = ROOT / "devtools" / "sam_local_env.json"
KAS_JWT_LIFETIME_S = 60
PLACEHOLDER = re.compile(r"\{\{([A-Za-z][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}\}")
# What a name promises, by its verb (events/ORDER says it for every event; a test keeps them agreeing).
VERB_STATUS = {
    "Get": 200,
    "List": 200,
    "Update": 200,
    "Create": 201,
    "Add": 201,
    "Delete": 204,
    "Revoke": 204,
    "Remove": 204,
}


class EventSetError(Exception):
    """events/ORDER and events/ disagree, or an event cannot be rendered."""


@dataclass(frozen=True)
class SampleEvent:
    path: Path
    status: int

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def relative(self) -> str:
        return self.path.relative_to(EVENTS_DIR).as_posix()


def event_files() -> list[Path]:
    return sorted(EVENTS_DIR.rglob("*.json"))


def ordered_events() -> list[SampleEvent]:
    """events/ORDER, checked: every line names an existing event once, with an HTTP status."""
    result, seen = [], set()
    for number, line in enumerate(ORDER_FILE.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            raise EventSetError(f"events/ORDER line {number}: expected '<path> <status>', got {line!r}")
        path = EVENTS_DIR / parts[0]
        if not path.is_file():
            raise EventSetError(f"events/ORDER line {number}: no such event {parts[0]}")
        if path.stem in seen:
            raise EventSetError(f"events/ORDER line {number}: a second event named {path.stem}")
        seen.add(path.stem)
        result.append(SampleEvent(path, int(parts[1])))
    return result


def promised_status(name: str) -> int | None:
    verb = re.match(r"[A-Z][a-z]+", name)
    return VERB_STATUS.get(verb.group(0)) if verb else None


def function_of(event: dict[str, Any]) -> str:
    """The logical id of the template function whose route the event is for."""
    route = (event["httpMethod"].upper(), event["resource"])
    for function in functions():
        if route in function.routes:
            return function.logical_id
    raise EventSetError(f"no function of template.yaml serves {' '.join(route)}")


def local_kas_secret() -> str:
    return json.loads(LOCAL_ENV_FILE.read_text())["Parameters"]["KAS_SECRET"]


def kas_jwt(secret_base64: str, now: float | None = None) -> str:
    import jwt

    issued = int(time.time() if now is None else now)
    claims = {
        "iss": "gitlab-kas",
        "aud": "gitlab",
        "iat": issued,
        "nbf": issued - 5,
        "exp": issued + KAS_JWT_LIFETIME_S,
    }
    return jwt.encode(claims, base64.b64decode(secret_base64), algorithm="HS256")


class EventRun:
    """Renders events in order and keeps what they answered, for the placeholders of later ones."""

    def __init__(self, kas_secret: str | None = None, values: dict[str, str] | None = None):
        self.kas_secret = kas_secret or local_kas_secret()
        self.values = dict(values or {})

    def render(self, path: Path) -> dict[str, Any]:
        def value(match: re.Match) -> str:
            name, field = match.group(1), match.group(2)
            if field is None and name == "KAS_JWT":
                return kas_jwt(self.kas_secret)
            key = f"{name}.{field}" if field else name
            if key not in self.values:
                raise EventSetError(f"{path.relative_to(ROOT)}: nothing earlier answered {{{{{key}}}}}")
            text = self.values[key]
            if '"' in text or "\\" in text:
                raise EventSetError(f"{key} holds a character an event file cannot take: {text!r}")
            return text

        return json.loads(PLACEHOLDER.sub(value, path.read_text()))

    def record(self, name: str, result: dict[str, Any]) -> None:
        try:
            body = json.loads(result.get("body") or "null")
        except ValueError:
            return
        if isinstance(body, dict):
            for field, value in body.items():
                if isinstance(value, str | int) and not isinstance(value, bool):
                    self.values[f"{name}.{field}"] = str(value)


Invoke = Callable[[str, dict[str, Any], SampleEvent], dict[str, Any]]


def run_all(invoke: Invoke, run: EventRun | None = None, report: Callable[[str], None] = print) -> list[str]:
    """Every event of events/ORDER through ``invoke(logical_id, event, sample)``; the failures."""
    run = run or EventRun()
    failures = []
    for sample in ordered_events():
        event = run.render(sample.path)
        function = function_of(event)
        started = time.monotonic()
        result = invoke(function, event, sample)
        status = result.get("statusCode") if isinstance(result, dict) else None
        elapsed = time.monotonic() - started
        verdict = "ok" if status == sample.status else f"FAILED (expected {sample.status})"
        report(f"{sample.relative:<48} {function:<26} {status} {verdict} {elapsed:.1f} s")
        if status != sample.status:
            failures.append(f"{sample.relative}: {status} instead of {sample.status}: {str(result)[:500]}")
        else:
            run.record(sample.name, result)
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.sam_events", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    render = sub.add_parser("render", help="print an event with its placeholders filled in")
    render.add_argument("event", type=Path)
    render.add_argument("--value", action="append", default=[], metavar="Event.field=VALUE")
    sub.add_parser("order", help="print the events in the order they run, with their function and status")
    args = parser.parse_args(argv)
    if args.command == "render":
        values = dict(item.split("=", 1) for item in args.value)
        json.dump(EventRun(values=values).render(args.event.resolve()), sys.stdout, indent=2)
        print()
    else:
        for sample in ordered_events():
            print(sample.relative, sample.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
