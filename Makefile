# Two commands on a fresh machine: `make serve` runs the API, `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 3000
WORKERS ?= 4
SAM_VENV := .venv-sam
SAM_PYTHON ?= $(shell command -v python3.12 2>/dev/null || (command -v pyenv >/dev/null && echo "$$(pyenv root)/versions/$$(pyenv versions --bare | grep -m1 '^3\.12')/bin/python"))

.PHONY: install serve test test-fast lint format bench check build validate deploy clean

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip
	@$(PY) devtools/requirements.py dev > $(VENV)/requirements.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check -r $(VENV)/requirements.txt
	@touch $@

install: $(VENV)/.installed

serve: install ## the local API at http://127.0.0.1:$(PORT)/api/v4 (embedded moto, no Docker)
	@$(PY) -m devtools.serve --port $(PORT) --workers $(WORKERS)

lint: install
	@$(PY) -m ruff check .
	@$(VENV)/bin/cfn-lint template.yaml

test: lint ## lint, then every test suite (unit, handler, end-to-end, concurrency)
	@$(PY) -m pytest -n 2 --dist loadgroup

test-fast: install
	@$(PY) -m pytest -n 2 -m "not e2e and not slow"

format: install
	@$(PY) -m ruff format . && $(PY) -m ruff check --fix .

bench: install ## writes BENCHMARKS.md
	@$(PY) -m bench

check: install ## read-only invariant check of the tables (AWS_ENDPOINT_URL / AWS credentials as usual)
	@$(PY) -m devtools.check

$(SAM_VENV)/.installed:
	@test -n "$(SAM_PYTHON)" || (echo "sam build needs Python 3.12 (the template's runtime) on PATH" >&2; exit 1)
	@$(SAM_PYTHON) -m venv $(SAM_VENV)
	@$(SAM_VENV)/bin/pip install --quiet --upgrade pip aws-sam-cli
	@touch $@

validate: $(SAM_VENV)/.installed
	@$(SAM_VENV)/bin/sam validate --lint

build: $(SAM_VENV)/.installed
	@PATH="$$(dirname $(SAM_PYTHON)):$$PATH" $(SAM_VENV)/bin/sam build

deploy: build
	@$(SAM_VENV)/bin/sam deploy --guided

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .pytest_cache .ruff_cache
