# Procedo: `make run` to use it, `make test` to test it, `make bench` to measure it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test bench lint

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

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench $(BENCH_ARGS)
