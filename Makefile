# The two commands: `make run` (Dagster UI and business API on the embedded defaults) and `make test` (the test suite).
# Both install exactly what uv.lock pins (`uv sync --locked`) into $(VENV).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
API_PORT ?= 8000
export ROUTINES_HOME ?= $(CURDIR)/.routines
# uv installs the rest; its own version is the one uv.lock pins (the `dev` extra)
UV_VERSION := $(shell sed -n '/^name = "uv"$$/{n;s/^version = "\(.*\)"$$/\1/p;}' uv.lock)
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: run test lint format bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(BIN)/uv pyproject.toml setup.py uv.lock
	$(BIN)/uv sync -q --locked --extra test --extra dev --python $(BIN)/python
	touch $@

## run: install, migrate and seed the embedded database, then start `dagster dev` on $(HOST):$(PORT) and the
## business API and pages on $(HOST):$(API_PORT); Ctrl-C stops both
run: $(VENV)/.installed
	exec $(BIN)/python -m routines.dev --host $(HOST) --port $(PORT) --api-port $(API_PORT)

## test: install with test extras and run the whole suite (SQLite and PostgreSQL)
test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.installed
	for script in benchmarks/*.py; do $(BIN)/python $$script || exit 1; done

## lock: after changing dependencies in pyproject.toml, update uv.lock (commit both)
lock: $(BIN)/uv
	$(BIN)/uv lock

clean:
	rm -rf $(VENV) .routines .pytest_cache .ruff_cache
