"""A handler module's import leaves for the first request what only requests need: boto3 (the
first client), Powertools' validation middlewares (built when a route first runs) and the
settings (read on first use)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench.coldstart import _environment, _paths
from devtools import template as cfn

DEFERRED = (
    "boto3",
    "aws_lambda_powertools.event_handler.middlewares.openapi_validation",
    "cryptography",
    "jwt",
)
_PROBE = """
import importlib, json, sys
sys.path[:0] = {paths!r}
importlib.import_module({module!r})
print(json.dumps(sorted(name for name in {deferred!r} if name in sys.modules)))
"""


@pytest.mark.parametrize("function", cfn.functions(), ids=lambda function: function.module)
def test_a_handler_import_defers_what_requests_need(function):
    template = cfn.load_template()
    code = _PROBE.format(paths=_paths(function, template), module=function.module, deferred=DEFERRED)
    done = subprocess.run(
        [sys.executable, "-c", code], env=_environment(template), capture_output=True, text=True, cwd="/", check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
