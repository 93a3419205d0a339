"""One OpenAPI description of every route, generated from the code: each function's Powertools
app describes its own routes (the decorators' summaries, statuses with GitLab's bodies from
``cluster_agents.web.openapi``, the parameter models they read); this merges the apps of
template.yaml into one document.

    python -m devtools.openapi            # writes functions/docs/openapi.json
    python -m devtools.openapi --check    # exit 1 when it differs from the code

One file is written: the docs function's (``functions/docs/openapi.json``, packaged by ``sam
build``), which it serves at ``GET /api/v4/openapi.json``; ``docs/openapi.json`` is a symbolic link
to it, for readers. tests/test_openapi.py fails when the file drifts from the code."""

from __future__ import annotations

import argparse
import copy
import importlib
import json
import os
import re
import sys
import tomllib
from typing import Any

from devtools import template as cfn

DOCUMENT_PATH = cfn.ROOT / "functions" / "docs" / "openapi.json"
READERS_LINK = cfn.ROOT / "docs" / "openapi.json"  # -> DOCUMENT_PATH
DOCUMENT_PATHS = (DOCUMENT_PATH, READERS_LINK)  # the same file, read by either name
OPENAPI_VERSION = "3.1.0"
TITLE = "Cluster Agents API"
DESCRIPTION = """GitLab's Agents API for Kubernetes (agents, agent tokens, receptive agents' URL configurations,
`/job/allowed_agents`, the agent server's internal API) and the GitLab world around it (users,
personal access tokens, groups, projects, members, CI jobs), answering like GitLab to the byte.

Every failure has GitLab's body: `{"message": "..."}` or `{"error": "..."}`; each route lists the
statuses it answers with, and an example body for each. A route that does not exist answers
404 `{"error":"404 Not Found"}`; the stage's throttle answers 429 `{"message":"429 Too Many Requests"}`.
Clients retry 429 and 5xx (honour `Retry-After`)."""

TAGS = [
    ("cluster agents", "Agents of a project (SPEC 2)"),
    ("agent tokens", "An agent's tokens; two active at most (SPEC 3)"),
    ("url configurations", "Receptive agents (SPEC 4)"),
    ("jobs", "CI jobs and the agents they may use (SPEC 6)"),
    ("agent server (internal)", "GitLab's internal API for the agent server, KAS (SPEC 7)"),
    ("users", "Users (SPEC 5)"),
    ("personal access tokens", "Personal access tokens (SPEC 5)"),
    ("groups", "Groups (SPEC 5)"),
    ("projects", "Projects (SPEC 5)"),
    ("members", "Project and group members (SPEC 5)"),
    ("metadata", "The GitLab version and agent server (KAS) this API answers as (SPEC 5)"),
    ("docs", "This description"),
]

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "PrivateToken": {
        "type": "apiKey",
        "in": "header",
        "name": "PRIVATE-TOKEN",
        "description": "A personal access token (glpat-...)",
    },
    "PrivateTokenParameter": {
        "type": "apiKey",
        "in": "query",
        "name": "private_token",
        "description": "A personal access token, as a query or form parameter",
    },
    "BearerToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal access token, or on the job routes a CI job token",
    },
    "JobToken": {"type": "apiKey", "in": "header", "name": "JOB-TOKEN", "description": "A running CI job's token"},
    "JobTokenParameter": {
        "type": "apiKey",
        "in": "query",
        "name": "job_token",
        "description": "A running CI job's token, as a query or form parameter",
    },
    "RunnerToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The job's token, as a runner sends it (query or form parameter)",
    },
    "KasJwt": {
        "type": "apiKey",
        "in": "header",
        "name": "Gitlab-Kas-Api-Request",
        "description": "HS256 JWT of the agent server (iss gitlab-kas, aud gitlab), signed with the KAS secret",
    },
    "AgentToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An agent token (glagent-...), read only when neither agent header is present",
    },
    "AgentTokenHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "Gitlab-Agentk-Api-Request",
        "description": "An agent token (glagent-...); when present, it alone decides",
    },
    "AgentTokenCommonHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "Gitlab-Agent-Api-Request",
        "description": "An agent token (glagent-...), read when Gitlab-Agentk-Api-Request is absent",
    },
}

ERROR_SCHEMA = {
    "title": "GitLabError",
    "description": "GitLab's error body: a message, or an error (with a description and scope for token errors).",
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "error": {"type": "string"},
        "error_description": {"type": "string"},
        "scope": {"type": "string"},
    },
}

BODY_MEDIA_TYPES = ("application/json", "application/x-www-form-urlencoded")
# Powertools adds its validation error schemas to every document; its 422 never exists here (the
# apps validate their parameters themselves, web.validation: 400 with Grape's messages).
UNUSED_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")


def _project_version() -> str:
    return tomllib.loads((cfn.ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def _importable(functions: list[cfn.Function]) -> None:
    """The functions' code and the layers on sys.path, as in a Lambda container."""
    for entry in [*(str(f.code_dir) for f in functions), *(str(d) for d in cfn.layer_dirs())]:
        if entry not in sys.path:
            sys.path.append(entry)


def app_schemas(functions: list[cfn.Function] | None = None) -> dict[str, dict[str, Any]]:
    """Each function's own description, as Powertools generates it from its app (by logical id)."""
    functions = functions if functions is not None else cfn.functions()
    _importable(functions)
    schemas = {}
    for function in functions:
        app = importlib.import_module(function.module).app
        generated = app.get_openapi_json_schema(
            title=function.logical_id,
            version=_project_version(),
            openapi_version=OPENAPI_VERSION,
            security_schemes=SECURITY_SCHEMES,
        )
        schemas[function.logical_id] = json.loads(generated)
    return schemas


def _model(reference: str) -> Any:
    module, _, name = reference.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


def _add_schema(schemas: dict[str, Any], name: str, definition: dict[str, Any]) -> None:
    if schemas.setdefault(name, definition) != definition:
        raise ValueError(f"two different schemas are named {name}")


def _request_body(reference: str, path_names: set[str], schemas: dict[str, Any]) -> dict[str, Any]:
    """The parameters a route reads with ``parse(Model)`` (JSON or form), without the ones its
    path carries, as a schema of ``components`` named after the model: the routes that name their
    model with ``web.openapi.body`` rather than declaring ``Annotated[Model, Body()]``."""
    schema = _model(reference).model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in schema.pop("$defs", {}).items():
        _add_schema(schemas, name, definition)
    schema["properties"] = {k: v for k, v in schema.get("properties", {}).items() if k not in path_names}
    required = [name for name in schema.get("required", []) if name not in path_names]
    if required:
        schema["required"] = required
    else:
        schema.pop("required", None)
    _add_schema(schemas, schema["title"], schema)
    reference_schema = {"$ref": f"#/components/schemas/{schema['title']}"}
    return {"required": bool(required), "content": {media: {"schema": reference_schema} for media in BODY_MEDIA_TYPES}}


def _shared_example(value: Any, examples: dict[str, Any]) -> dict[str, str]:
    """A reference to ``value`` in ``components.examples``, named after its message."""
    fields = [value.get(key) for key in ("message", "error_description", "error")] if isinstance(value, dict) else []
    text = next((field for field in fields if isinstance(field, str)), "error")
    base = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")[:60] or "error"
    name, n = base, 2
    while name in examples and examples[name]["value"] != value:
        name, n = f"{base}_{n}", n + 1
    examples[name] = {"value": value}
    return {"$ref": f"#/components/examples/{name}"}


def _operation(operation: dict[str, Any], schemas: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    operation = copy.deepcopy(operation)
    responses = operation["responses"]
    for response in responses.values():
        if response.get("content") == {}:
            del response["content"]
        for media in response.get("content", {}).values():
            if "examples" in media:
                media["examples"] = {
                    key: _shared_example(example["value"], examples) for key, example in media["examples"].items()
                }
    parameters = operation.get("parameters", [])
    if parameters:
        operation["parameters"] = parameters
    request_body = operation.get("requestBody")
    if request_body:  # Grape reads a form body as it reads JSON (web.request): one schema for both
        schema = next(iter(request_body["content"].values()))
        request_body["content"] = {media: copy.deepcopy(schema) for media in BODY_MEDIA_TYPES}
    model = operation.pop("x-request-body-model", None)
    if model:
        path_names = {p["name"] for p in parameters if p["in"] == "path"}
        operation["requestBody"] = _request_body(model, path_names, schemas)
    operation["responses"] = dict(sorted(responses.items()))
    return operation


def build_document(functions: list[cfn.Function] | None = None) -> dict[str, Any]:
    """The merged description of every route of every function in template.yaml."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {"GitLabError": ERROR_SCHEMA}
    examples: dict[str, Any] = {}
    for logical_id, schema in app_schemas(functions).items():
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if method in paths.get(path, {}):
                    raise ValueError(f"{method.upper()} {path} is described by two functions (again by {logical_id})")
                paths.setdefault(path, {})[method] = _operation(operation, components, examples)
        for name, definition in schema.get("components", {}).get("schemas", {}).items():
            if name not in UNUSED_SCHEMAS:
                _add_schema(components, name, definition)  # two models of one name: rename one
    order = ("get", "head", "put", "post", "delete")
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": _project_version(), "description": DESCRIPTION},
        "servers": [
            {
                "url": "http://127.0.0.1:3000",
                "description": "make serve (the deployed API serves this document with its own base URL)",
            }
        ],
        "tags": [{"name": name, "description": description} for name, description in TAGS],
        "paths": {
            path: dict(sorted(paths[path].items(), key=lambda item: order.index(item[0]))) for path in sorted(paths)
        },
        "components": {
            "schemas": dict(sorted(components.items())),
            "examples": dict(sorted(examples.items())),
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write (or --check) the OpenAPI description of every route.")
    parser.add_argument("--check", action="store_true", help="exit 1 when the document differs from the code")
    args = parser.parse_args(argv)
    text = render(build_document())
    stale = not DOCUMENT_PATH.exists() or DOCUMENT_PATH.read_text(encoding="utf-8") != text
    linked = READERS_LINK.is_symlink() and READERS_LINK.resolve() == DOCUMENT_PATH.resolve()
    if args.check:
        if stale:
            print(f"{DOCUMENT_PATH.relative_to(cfn.ROOT)} is out of date: run `make openapi`", file=sys.stderr)
        if not linked:
            print(f"{READERS_LINK.relative_to(cfn.ROOT)} is not a link to it: run `make openapi`", file=sys.stderr)
        return 1 if stale or not linked else 0
    if stale:
        DOCUMENT_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT_PATH.relative_to(cfn.ROOT)}")
    if not linked:
        READERS_LINK.unlink(missing_ok=True)
        READERS_LINK.symlink_to(os.path.relpath(DOCUMENT_PATH, READERS_LINK.parent))
        print(f"linked {READERS_LINK.relative_to(cfn.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
