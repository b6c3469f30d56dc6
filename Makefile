# One-command entry points. `make run` and `make test` set everything up first.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

.PHONY: setup run run-full pin-weights test lint format bench gpu-wheels

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The quick study: fits a CPU-only machine.
run: setup
	$(MAKE) pin-weights PIN_ARGS="--configfile config/quick.yaml"
	$(BIN)/snakemake --configfile config/quick.yaml

# The full study: meant for a GPU machine.
run-full: setup pin-weights
	$(BIN)/snakemake

# Pin the sha256 of the weights files the study uses whose publisher gives none
# (MobileNetV2), fetched from their official URLs, in config/weights.lock.json
# (README: Reruns). No fetch job writes that file. Commit it.
PIN_ARGS ?=
pin-weights: setup
	$(BIN)/python workflow/scripts/pin_weights.py $(PIN_ARGS)

test: setup
	$(BIN)/pytest

# Benchmark tables of this machine (README: Performance); not tests.
bench: setup
	$(BIN)/python bench/bench_torch.py --naive
	$(BIN)/python bench/bench_keras.py --naive
	$(BIN)/python bench/bench_keras.py --naive --models mobilenetv2_pretrained_keras \
		--input-size 224 --batch-size 64 --out bench/out/keras-224

lint: setup
	$(BIN)/ruff check workflow tests bench
	$(BIN)/ruff format --check workflow tests bench
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: setup
	$(BIN)/ruff format workflow tests bench
	$(BIN)/ruff check --fix workflow tests bench
	$(BIN)/snakefmt Snakefile workflow/rules

# Wheels bench/gpu-check.sh installs on a GPU machine whose Python has PyTorch
# and JAX but neither Keras nor jsonschema, and no network (CPython 3.12, x86-64).
GPU_WHEELS := keras==3.15.1 namex==0.1.0 optree==0.20.0 jsonschema==4.26.0 \
	jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1

gpu-wheels: setup
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
		--implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
		--platform manylinux2014_x86_64 -d .whl $(GPU_WHEELS)
