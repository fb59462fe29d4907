# Set-up is two commands: `make demo` and `make test`. Both create .venv on their own.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CASE ?= sample_data/demo_case

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(BIN)/python -m forensics.demo --case $(CASE)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check forensics parsers tests benchmarks
	$(BIN)/ruff format --check forensics parsers tests benchmarks

test: lint
	$(BIN)/python -m pytest -n 2 -q

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .pytest_cache benchmarks/.cache
