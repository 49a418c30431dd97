# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck imports pytest mlflow-venv bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

## demo: create the venv, install, run the closed loop on the embedded default
demo: $(VENV)/.installed
	$(BIN)/mlsteward demo

## test: install the test extras, lint, type-check, check imports, run the tests
test: $(VENV)/.test-installed lint typecheck imports pytest

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

imports: $(VENV)/.test-installed
	$(BIN)/lint-imports

pytest: $(VENV)/.test-installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## mlflow-venv: MLflow in its own venv outside the repository (the MLflow import test)
mlflow-venv: $(VENV)/.test-installed
	.ci/mlflow-venv

clean:
	rm -rf $(VENV) .mlsteward .pytest_cache .mypy_cache .ruff_cache
