# One-command entry points. `make run` and `make test` set everything up first.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup run run-full test lint format

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The quick study: fits a CPU-only machine.
run: setup
	$(BIN)/snakemake --configfile config/quick.yaml

# The full study: meant for a GPU machine.
run-full: setup
	$(BIN)/snakemake

test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check workflow tests bench
	$(BIN)/ruff format --check workflow tests bench
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: setup
	$(BIN)/ruff format workflow tests bench
	$(BIN)/ruff check --fix workflow tests bench
	$(BIN)/snakefmt Snakefile workflow/rules
