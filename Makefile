# Trackway's one entry point. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUF := node_modules/.bin/buf
DATA ?= ./trackway-data

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install trackway in editable mode with its test extras

serve: setup ## Install, then run the server on SQLite and ./trackway-data
	@mkdir -p $(DATA)/artifacts
	$(BIN)/trackway server --backend-store-uri sqlite:///$(DATA)/trackway.db \
		--artifacts-destination file://$(abspath $(DATA))/artifacts

gen: setup ## Regenerate all generated code from proto/
	$(BIN)/python tools/gen_python.py
	$(BIN)/python tools/gen_openapi.py
	$(BIN)/python tools/gen_r.py

checkgenerate: setup ## Fail when the committed generated code is stale against proto/
	$(BIN)/python tools/gen_python.py --check
	$(BIN)/python tools/gen_openapi.py --check
	$(BIN)/python tools/gen_r.py --check

# The googleapis protos that proto/ imports (HTTP rules), copied from the installed
# googleapis-common-protos package for buf, which cannot reach its registry offline.
GOOGLEAPIS := build/googleapis

buf-deps: setup ## Copy the googleapis protos that proto/ imports into build/ for buf
	$(BIN)/python tools/gen_python.py --googleapis $(GOOGLEAPIS)

$(BUF):
	npm install --no-audit --no-fund --silent

lint: setup $(BUF) buf-deps ## buf lint, ruff and mypy
	$(BUF) lint
	$(BUF) format proto --diff --exit-code
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

# The Java and R clients' toolchains and the UI tests' browser, from Debian's packages
# (apt, as root) when missing; each script is a no-op when everything is there.
toolchains: ## Install Maven and a JDK, R with httr2/jsonlite/testthat, Chromium
	bash scripts/install-java.sh
	bash scripts/install-r.sh
	bash scripts/install-browser.sh

test: setup checkgenerate toolchains ## Install, start the services the tests need, run the whole suite
	@source scripts/test-services.sh && start_services && \
		$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: setup ## Run the benchmarks (one JSON line per workload); starts the store emulators
	@source scripts/test-services.sh && start_services && $(BIN)/python -m bench $(BENCH_ARGS)

.PHONY: help setup serve gen checkgenerate buf-deps toolchains lint test bench
