# dintero-aio: every target creates the virtual environment it needs (python3, pip and make suffice).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The generator runs ruff from its post hooks: put the venv's pinned ruff first on PATH.
GENERATE = PATH="$(BIN):$$PATH" $(BIN)/openapi-python-client generate --path openapi.yaml \
	--meta none --config generator-config.yaml --custom-template-path templates \
	--overwrite --output-path

.PHONY: venv demo bench reliability mutation generate check-generated lint typecheck docs test clean

venv: $(STAMP)

# Re-installs only when pyproject.toml changes; `make clean` forces a fresh environment.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# `make bench ARGS=--quick` for a short run.
bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py $(ARGS)

# The reliability suite at depth (20,000 fuzz examples per test, 500 hostile-server examples per
# operation, the response-size limit measured against raw httpx), rendered to docs/reliability.md.
reliability: $(STAMP)
	rm -f .reliability.json
	DINTERO_FUZZ_EXAMPLES=20000 DINTERO_RELIABILITY_REPORT=.reliability.json \
		$(BIN)/pytest -q tests/test_reliability.py
	DINTERO_FUZZ_EXAMPLES=500 DINTERO_RELIABILITY_REPORT=.reliability.json \
		$(BIN)/pytest -q tests/test_hostile.py
	$(BIN)/python scripts/body_limits.py .reliability.json
	$(BIN)/python scripts/reliability_report.py .reliability.json docs/reliability.md
	rm -f .reliability.json

# Mutation testing of the wrapper's core (docs/mutation.md); not part of `make test`.
# `make mutation ARGS="--modules retry,calls"` for some modules.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(ARGS)

generate: $(STAMP)
	$(GENERATE) generated/dintero_aio_api

check-generated: $(STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(GENERATE) "$$tmp/dintero_aio_api" >/dev/null; \
	if ! diff -ru --exclude=__pycache__ generated/dintero_aio_api "$$tmp/dintero_aio_api"; then \
		echo "check-generated: generated/ differs from what 'make generate' writes (diff above)." >&2; \
		echo "Run 'make generate' and commit the result; never edit generated/ by hand." >&2; \
		exit 1; \
	fi; \
	echo "check-generated: generated/ is up to date."

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src/

# The API reference (mkdocs.yml), from the docstrings into site/ (git-ignored); a warning fails it.
docs: $(STAMP)
	$(BIN)/mkdocs build --strict --clean --site-dir site

test: check-generated lint typecheck docs
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist site mutants
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
