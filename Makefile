# MoatMetrics — `make run` to try it, `make test` to check it. Everything installs into .venv.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
export DO_NOT_TRACK := 1
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export MOATMETRICS_HOME ?= $(CURDIR)/.moatmetrics
API_PORT ?= 8000
UI_PORT ?= 3000

.PHONY: install browser oidc-provider prepare run test test-fast lint bench clean

install: $(STAMP) $(MANIFEST) browser oidc-provider

# The single sign-on tests (tests/e2e/api/test_api_sso.py) sign in against a certified OpenID
# provider, Node's oidc-provider, pinned in tests/oidc_provider/package-lock.json. Without
# node/npm they skip locally and fail in CI (MOATMETRICS_REQUIRE_OIDC=1), saying why.
OIDC_PROVIDER := tests/oidc_provider/node_modules/.package-lock.json
oidc-provider: $(OIDC_PROVIDER)
$(OIDC_PROVIDER): tests/oidc_provider/package.json tests/oidc_provider/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/oidc_provider --no-audit --no-fund --loglevel=error; \
	else echo "npm is not installed (apt-get install nodejs npm): the single sign-on tests will skip"; fi

# The browser tests (tests/e2e/browser) drive Debian's chromium through Playwright;
# Playwright's own browser download is not used. Installed only when missing, and only as
# root; otherwise the browser tests skip, and say so.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& echo "installing chromium (Debian package) for the browser tests" \
		&& apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
		|| echo "chromium is not installed (as root: apt-get install chromium): the browser tests will skip"

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The dbt manifest must exist before the Dagster definitions load.
$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' 2>/dev/null | grep -v target/)
	$(BIN)/moatmetrics prepare

prepare: $(STAMP)
	$(BIN)/moatmetrics prepare

run: install
	@if [ -z "$$(ls -A $(MOATMETRICS_HOME)/landing 2>/dev/null)" ]; then \
		$(BIN)/moatmetrics demo-data --out $(MOATMETRICS_HOME)/landing; fi
	$(BIN)/moatmetrics run
	@echo "Starting the Dagster UI on http://127.0.0.1:$(UI_PORT)/ and the API on http://127.0.0.1:$(API_PORT)/ (Ctrl-C stops both)"
	@$(BIN)/moatmetrics ui --port $(UI_PORT) > $(MOATMETRICS_HOME)/ui.log 2>&1 & ui=$$!; \
		trap 'kill -INT $$ui 2>/dev/null; wait $$ui 2>/dev/null' EXIT INT TERM; \
		key=$$($(BIN)/moatmetrics keys create --name "make-run-$$(date +%Y%m%d-%H%M%S)" --role analyst 2>/dev/null); \
		echo "Console:    http://127.0.0.1:$(API_PORT)/console  sign in with this analyst key (shown once):"; \
		echo "              $$key"; \
		echo "API:        curl -H 'Authorization: Bearer $$key' http://127.0.0.1:$(API_PORT)/api/v1/marts/client_profitability"; \
		echo "API docs:   http://127.0.0.1:$(API_PORT)/docs"; \
		echo "Dagster UI: http://127.0.0.1:$(UI_PORT)/  (log: $(MOATMETRICS_HOME)/ui.log)"; \
		echo "An admin key (audit log, keys): $(BIN)/moatmetrics keys create --name you --role admin"; \
		echo "Your own exports instead of the demo: put them in a folder's landing/ and run"; \
		echo "  make run MOATMETRICS_HOME=/path/to/folder   (README: 'Use it with your own exports')"; \
		$(BIN)/moatmetrics serve --port $(API_PORT)

# Tests live in tests/unit, tests/integration and tests/e2e (CONTRIBUTING.md says what goes
# where). The API and report tests (tests/e2e/api, tests/e2e/reports) run twice: on DuckDB
# snapshots (with everything else), then in PostgreSQL mode (MOATMETRICS_TEST_BACKEND=postgres:
# each test home gets its own PostgreSQL database). pytest's exit code 5 (no test collected)
# fails the target like any other non-zero code: a selection that finds nothing is broken.
PYTEST := $(BIN)/python -m pytest -q
# The suite in two worker processes (pytest-xdist), a file per worker at a time so a module's
# fixtures are built once: most of a test's time is waiting for a pipeline run, a server or a
# browser, so two workers on this two-core machine take the DuckDB pass from 32 to 18 minutes
# (four workers: 20, the runs then compete for the cores); 12 minutes in a fresh clone on
# 2026-12-06, after cheaper pipeline runs. Session fixtures are built once per worker; the dbt
# manifest once per run (tests/conftest.py). The PostgreSQL pass too runs in two workers
# (9 -> 3.5 minutes): a module's API servers and pooled connections close when
# it ends (tests/e2e/api/conftest.py), so both workers stay well under the local PostgreSQL's
# max_connections of 100 (at most 38 measured).
# Files go to the workers in collection order, the longest first (tests/conftest.py,
# LONGEST_MODULES), not in xdist's default order (most tests first), which put the long
# single-test modules last and left one worker running them alone for the last minutes.
WORKERS := -n 2 --dist loadfile --no-loadscope-reorder
# A third pass: the role, audit, mart and client-scope checks with the test homes encrypted at
# rest (MOATMETRICS_TEST_BACKEND=encrypted; docs/security.md, Encryption at rest).
ENCRYPTED_API_TESTS := tests/e2e/api/test_api_roles.py tests/e2e/api/test_api_audit.py \
	tests/e2e/api/test_api_marts.py tests/e2e/api/test_api_client_scope.py
# The main pass names its 25 slowest tests: the profile LONGEST_MODULES is kept from.
test: install
	$(BIN)/ruff check .
	$(PYTEST) $(WORKERS) --durations=25
	MOATMETRICS_TEST_BACKEND=postgres $(PYTEST) $(WORKERS) tests/e2e/api tests/e2e/reports
	MOATMETRICS_TEST_BACKEND=encrypted $(PYTEST) $(ENCRYPTED_API_TESTS)

# The inner loop: unit tests and the integration tests not marked slow (no full pipeline run,
# no server, no full dbt build); a minute or two instead of `make test`'s many.
test-fast: $(STAMP) $(MANIFEST)
	$(PYTEST) -m "not slow" tests/unit tests/integration

# ruff, the formatter, the type checker (mypy; strict on the core, pyproject.toml) and the
# import contracts (import-linter: the layers of docs/architecture.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# `make bench`: 1m pipeline + floor + API load (docs/benchmarks.md); add 10m with
# `make bench BENCH_ARGS=--with-10m`. wrk (Debian) drives the API load; without it (and
# without root to install it) a Python client does.
bench: install
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& echo "installing wrk (Debian package) for the API load test" \
		&& apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null; } \
		|| echo "wrk is not available: the API load test uses the Python client"
	$(BIN)/python bench/run_bench.py --scale 1m $(BENCH_ARGS)

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
