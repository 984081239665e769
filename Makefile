# The two commands: `make run` (Dagster UI on the embedded defaults) and `make test` (the test suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 3000
export ROUTINES_HOME ?= $(CURDIR)/.routines

.PHONY: run test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python pyproject.toml setup.py
	$(BIN)/python -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --python $(BIN)/python -e '.[test]'
	touch $@

## run: install, migrate and seed the embedded database, then start `dagster dev` on $(HOST):$(PORT)
run: $(VENV)/.installed
	exec $(BIN)/python -m routines.dev --host $(HOST) --port $(PORT)

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

clean:
	rm -rf $(VENV) .routines .pytest_cache .ruff_cache
