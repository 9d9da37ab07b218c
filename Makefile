# Procedo: `make run` to use it, `make test` to test it, `make bench` to measure it.
# `make test-fast` is the inner loop: SQLite only, no slow or browser tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast bench lint

$(BIN)/python:
	@echo "== Creating the virtual environment $(VENV)/ (first time only)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "== Installing Procedo and its dependencies into $(VENV)/ (first time only, about a minute)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/procedo run

test: $(VENV)/.installed-test
	scripts/test.sh

# Leaves out what `make test` (and CI) still runs: the tests marked slow (real processes,
# fault tests, the retail file, schemathesis) and browser, and the PostgreSQL + Redis run.
test-fast: $(VENV)/.installed-test
	@echo "== make test-fast: SQLite only, without the slow and browser tests (make test runs everything, on SQLite and PostgreSQL + Redis)"
	@mkdir -p "$${PROCEDO_TEST_VAR:-$(CURDIR)/var/test}"
	env -u DATABASE_URL -u REDIS_URL PROCEDO_VAR="$${PROCEDO_TEST_VAR:-$(CURDIR)/var/test}" \
	  $(BIN)/pytest -m "not slow and not browser" $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(BENCH_ARGS)
