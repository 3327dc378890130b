# Two commands on a fresh machine:  `make up`  runs everything;  `make test`  runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up test lint unit integration e2e bench bench-http clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]"
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/jalur up

test: $(STAMP) lint
	$(BIN)/python -m pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain commands projections consumers api infra
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/python -m pytest -q tests/integration

e2e: $(STAMP)
	$(BIN)/python -m pytest -q tests/e2e

bench: $(STAMP)
	$(BIN)/python bench/backbone.py
	$(BIN)/python bench/accounts.py
	$(BIN)/python bench/rebuild.py
	$(BIN)/python bench/http_load.py

# Jalur (a whole `jalur up`) beside its anchors over HTTPS, about 5 minutes; needs wrk.
bench-http: $(STAMP)
	$(BIN)/python bench/http_load.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
