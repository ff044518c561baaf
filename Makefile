# The two quick-start commands of the README: `make demo` and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: demo test lint install install-test

$(BIN)/pip:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/pip
	$(BIN)/pip install -q -e .

install-test: $(BIN)/pip
	$(BIN)/pip install -q -e '.[test]'

## demo: install Rectify, create the demo ledger (SQLite under ./rectify-data), show it, and run it
demo: install
	$(BIN)/rectify init --demo
	$(BIN)/rectify ledger summary
	$(BIN)/rectify run

## test: install what the tests need (PostgreSQL, LibreOffice, Chromium, docker compose), lint, and run the suite on SQLite and PostgreSQL
test: install-test
	bash deploy/postgres-for-tests.sh
	bash deploy/office-tools-for-tests.sh
	bash deploy/chromium-for-tests.sh
	bash deploy/compose-for-tests.sh
	$(MAKE) lint
	$(BIN)/pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
