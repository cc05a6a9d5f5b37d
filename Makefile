# Two entry points on a fresh machine with Python 3.11: `make book` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= quick

.PHONY: book test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the pins change; the stamp lives inside the (ignored) virtual environment.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[test,bench]'
	touch $@

book: $(VENV)/.installed
	$(BIN)/python -m valint book --profile $(PROFILE)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q
