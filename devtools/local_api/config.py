"""The local API's configuration: what it reads from its environment and from template.yaml
(each function's handler, memory and timeout; the code and layers a worker puts on sys.path)."""

from __future__ import annotations

import base64
import binascii
import collections
import secrets
from dataclasses import dataclass, field

from devtools import template as cfn

DEFAULT_REGION = "us-east-1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
LAMBDA_DEFAULT_TIMEOUT_S = 3.0
LAMBDA_DEFAULT_MEMORY_MB = 128


class ConfigError(Exception):
    """Bad configuration: reported as one line on stderr (exit code 2 on the command line)."""


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to know about one function (sent to the worker process)."""

    name: str
    module: str
    handler: str
    memory_mb: int
    timeout_s: float


@dataclass(frozen=True)
class Settings:
    """What the server reads from its environment (secrets kept out of repr)."""

    endpoint_url: str | None
    region: str
    credentials: dict[str, str] = field(repr=False)
    kas_secret: str = field(repr=False)
    kas_secret_generated: bool
    root_token: str | None = field(repr=False)
    external_url: str | None

    @classmethod
    def from_environ(cls, environ: dict[str, str], external_url: str | None = None) -> Settings:
        kas_secret, generated = _kas_secret(environ.get("KAS_SECRET", ""))
        return cls(
            endpoint_url=environ.get("AWS_ENDPOINT_URL") or None,
            region=environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION") or DEFAULT_REGION,
            credentials=_credentials(environ),
            kas_secret=kas_secret,
            kas_secret_generated=generated,
            root_token=environ.get("ROOT_TOKEN") or None,
            external_url=external_url or environ.get("EXTERNAL_URL") or None,
        )


def _kas_secret(value: str) -> tuple[str, bool]:
    """KAS_SECRET as given (checked to be base64), or a fresh random one."""
    value = value.strip()
    if not value:
        return base64.b64encode(secrets.token_bytes(32)).decode("ascii"), True
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if not decoded:
        raise ConfigError("KAS_SECRET must be the base64 of the agent server's shared secret")
    return value, False


def _credentials(environ: dict[str, str]) -> dict[str, str]:
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        return {name: environ[name] for name in names if environ.get(name)}
    return dict(DUMMY_CREDENTIALS)


def function_spec(template: dict, function: cfn.Function) -> FunctionSpec:
    """Memory and timeout of a function: its own, else the template's Globals, else Lambda's."""
    defaults = template.get("Globals", {}).get("Function", {})
    props = template["Resources"][function.logical_id]["Properties"]

    def number(key: str, fallback: float) -> float:
        value = props.get(key, defaults.get(key, fallback))
        if isinstance(value, dict) and value.get("Ref") in template.get("Parameters", {}):
            value = template["Parameters"][value["Ref"]].get("Default", fallback)  # as a deployed stack
        return value if isinstance(value, int | float) and not isinstance(value, bool) else fallback

    return FunctionSpec(
        name=function.logical_id,
        module=function.module,
        handler=function.handler,
        memory_mb=int(number("MemorySize", LAMBDA_DEFAULT_MEMORY_MB)),
        timeout_s=float(number("Timeout", LAMBDA_DEFAULT_TIMEOUT_S)),
    )


def search_path(template: dict, functions: list[cfn.Function]) -> list[str]:
    """Like a Lambda container: the function code first, then the layers."""
    entries = [str(function.code_dir) for function in functions] + [str(d) for d in cfn.layer_dirs(template)]
    return list(dict.fromkeys(entries))


def check_routes(functions: list[cfn.Function]) -> None:
    """API Gateway refuses a method twice on one resource; so do we, rather than pick one."""
    owners: dict[tuple[str, str], str] = {}
    for function in functions:
        for route in function.routes:
            other = owners.setdefault(route, function.logical_id)
            if other != function.logical_id:
                raise ConfigError(f"{' '.join(route)} is routed to both {other} and {function.logical_id}")


def check_module_names(functions: list[cfn.Function]) -> None:
    """Every worker hosts every function, so two code dirs must not both define the handler module."""
    dirs: dict[str, set] = collections.defaultdict(set)
    for function in functions:
        dirs[function.module].add(function.code_dir)
    for module, code_dirs in dirs.items():
        if len(code_dirs) > 1:
            where = ", ".join(sorted(str(path) for path in code_dirs))
            raise ConfigError(f"handler module {module!r} is defined in more than one code dir ({where})")


def worker_environment(
    settings: Settings, endpoint: str, function_env: dict[str, str], overrides: dict[str, str]
) -> dict[str, str]:
    env = {**function_env, **overrides}
    env.update(settings.credentials)
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION=settings.region,
        AWS_DEFAULT_REGION=settings.region,
        KAS_SECRET=settings.kas_secret,
        POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
    )
    if settings.external_url:
        env["EXTERNAL_URL"] = settings.external_url
    return env
