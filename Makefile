# Two commands on a fresh machine: `make serve` runs the API, `make test` runs the tests.
# A Python 3.12 that really runs (a pyenv shim for a version that is not selected does not): the
# template's runtime. The tests run on it when there is one (PYTHON=python3.11 for 3.11: a virtualenv
# keeps the Python it was made with, `make clean` first to change it); `sam build` needs it on PATH.
PYTHON312 := $(shell for p in python3.12 $$(pyenv root 2>/dev/null)/versions/3.12*/bin/python3.12; do \
	"$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { command -v "$$p"; break; }; done)
PYTHON ?= $(or $(PYTHON312),python3)
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
# uv syncs .venv to uv.lock; it never downloads a Python of its own.
UV_ENV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
PORT ?= 3000
WORKERS ?= 4
SAM_VENV := .venv-sam
SAM_PYTHON ?= $(PYTHON312)
SAM := $(SAM_VENV)/bin/sam
SAM_ENV := SAM_CLI_TELEMETRY=0

.PHONY: install lock serve test test-fast lint format bench load check build validate validate-if-possible deploy openapi clean \
	sam-local test-sam-local

# The virtualenv holds exactly the versions in uv.lock (runtime and dev): uv, at its locked version,
# syncs it (--inexact: pip and what one adds by hand stay).
$(VENV)/.installed: pyproject.toml uv.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@uv_version=$$($(PY) devtools/lock.py uv-version) && { test "$$($(UV) --version 2>/dev/null)" = "uv $$uv_version" || \
		$(PY) -m pip install --quiet --disable-pip-version-check "uv==$$uv_version"; }
	@$(UV_ENV) $(UV) sync --quiet --frozen --inexact --extra dev
	@touch $@

# Swagger UI for the docs page (npm's swagger-ui-dist, pinned and checked; not committed): devtools/swagger_ui.py.
SWAGGER_UI := functions/docs/swagger_ui/VERSION
$(SWAGGER_UI): devtools/swagger_ui.py | $(VENV)/.installed
	@$(PY) -m devtools.swagger_ui

install: $(VENV)/.installed $(SWAGGER_UI)

lock: install ## re-resolve uv.lock from pyproject.toml and write the layer's requirements from it (UPGRADE=1: newest versions)
	@$(PY) -m devtools.lock $(if $(UPGRADE),--upgrade)
	@$(UV_ENV) $(UV) sync --quiet --frozen --inexact --extra dev && touch $(VENV)/.installed

serve: install ## the local API at http://127.0.0.1:$(PORT)/api/v4 (embedded moto, no Docker)
	@REVISION=$${REVISION:-$$(git rev-parse --short HEAD 2>/dev/null)} $(PY) -m devtools.local_api --port $(PORT) --workers $(WORKERS)

lint: install
	@$(PY) -m ruff check .
	@$(PY) -m ruff format --check .
	@$(PY) -m mypy
	@$(VENV)/bin/cfn-lint template.yaml

test: lint ## lint, then every test suite (unit, handler, end-to-end, concurrency), then sam validate --lint
	@$(PY) -m pytest -n 2 --dist loadgroup
	@$(MAKE) --no-print-directory validate-if-possible

test-fast: install
	@$(PY) -m pytest -n 2 -m "not e2e and not slow"

format: install
	@$(PY) -m ruff format . && $(PY) -m ruff check --fix .

bench: install ## writes BENCHMARKS.md
	@$(PY) -m bench

load: install ## locust against the local API on 127.0.0.1 (60 s, 20,000 requests at most), then the invariant checker
	@$(PY) -m bench.load

check: install ## read-only invariant check of the tables (AWS_ENDPOINT_URL / AWS credentials as usual)
	@$(PY) -m devtools.check

# SAM CLI lives in its own virtualenv: it pins boto3/pydantic versions of its own.
$(SAM_VENV)/.installed:
	@test -n "$(SAM_PYTHON)" || (echo "SAM CLI and sam build need Python 3.12 (the template's runtime) on PATH" >&2; exit 1)
	@$(SAM_PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip "aws-sam-cli>=1.170,<2"
	@touch $@

validate: $(SAM_VENV)/.installed ## sam validate --lint (the template as SAM and cfn-lint see it)
	@$(SAM_ENV) $(SAM) validate --lint --region $${AWS_REGION:-$${AWS_DEFAULT_REGION:-us-east-1}}

# Runs validate when the SAM virtualenv exists or can be made (it needs Python 3.12 and PyPI);
# otherwise says why it was skipped, so `make test` still works offline.
validate-if-possible:
	@if $(MAKE) -s --no-print-directory $(SAM_VENV)/.installed; then \
		$(MAKE) --no-print-directory validate; \
	else \
		echo "note: skipped sam validate --lint (no Python 3.12 or no PyPI to install aws-sam-cli into $(SAM_VENV))" >&2; \
	fi

build: $(SAM_VENV)/.installed $(SWAGGER_UI) ## sam build into .aws-sam/ (needs Python 3.12 on PATH, which SAM_PYTHON provides)
	@PATH="$$(dirname $(SAM_PYTHON)):$$PATH" $(SAM_ENV) $(SAM) build

deploy: build ## sam deploy --guided (parameters: see README, "Operating it")
	@$(SAM_ENV) $(SAM) deploy --guided --parameter-overrides Revision=$$(git rev-parse --short HEAD 2>/dev/null)

# `sam local` for real: Docker (started here when none runs), SAM's image (a stand-in where no registry
# answers), sam build for this machine's architecture, a seeded local AWS (moto); devtools/sam_local.py.
sam-local: install $(SAM_VENV)/.installed ## sam local start-api at http://127.0.0.1:$(PORT) on a seeded local AWS (Ctrl-C stops it)
	@SAM_PYTHON=$(SAM_PYTHON) $(PY) -m devtools.sam_local serve --port $(PORT)

test-sam-local: install $(SAM_VENV)/.installed ## every events/ file through sam local invoke, then python-gitlab through start-api
	@SAM_PYTHON=$(SAM_PYTHON) $(PY) -m devtools.sam_local test

openapi: install ## regenerate functions/docs/openapi.json (docs/openapi.json links to it) from the routes
	@$(PY) -m devtools.openapi

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache .mypy_cache functions/docs/swagger_ui build
