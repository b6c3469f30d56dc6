# One-command entry points. `make run` and `make test` set everything up first.
VENV ?= .venv
BIN := $(VENV)/bin
PYTHON ?= python3

# GPU=yes where nvidia-smi lists an NVIDIA GPU: then the Keras jobs get TensorFlow's
# GPU build (requirements-gpu.txt) in place of tensorflow-cpu. Override: make setup GPU=no
GPU ?= $(shell nvidia-smi -L 2>/dev/null | grep -q '^GPU ' && echo yes || echo no)

.PHONY: setup run run-full pin-weights check-config config-docs test lint format bench gpu-wheels \
	mutation

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt $(if $(filter yes,$(GPU)),requirements-gpu.txt)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
ifeq ($(GPU),yes)
	grep -v '^tensorflow-cpu==' requirements.txt > $(VENV)/requirements-without-tf-cpu.txt
	$(BIN)/pip uninstall --quiet --yes tensorflow-cpu 2>/dev/null || true
	$(BIN)/pip install --quiet -r $(VENV)/requirements-without-tf-cpu.txt -r requirements-gpu.txt
else
	$(BIN)/pip install --quiet -r requirements.txt
endif
	echo "GPU=$(GPU)" > $@

# Your own config overlays on top of the study's, e.g. an offline one (docs/usage.md):
#   make run CONFIG="my-offline.yaml"   (several: CONFIG="a.yaml b.yaml")
# pin-weights reads them too, and checks each file as check-config does (before
# Snakemake's own merge reads it). SNAKEMAKE_ARGS go to Snakemake, e.g. "-n" for a dry run.
CONFIG ?=
SNAKEMAKE_ARGS ?=
OVERLAYS = $(if $(strip $(CONFIG)),--configfile $(CONFIG))

# The quick study: fits a CPU-only machine.
run: setup
	$(MAKE) pin-weights PIN_ARGS="--configfile config/quick.yaml"
	$(BIN)/snakemake $(SNAKEMAKE_ARGS) --configfile config/quick.yaml $(CONFIG)

# The full study: meant for a GPU machine.
run-full: setup pin-weights
	$(BIN)/snakemake $(SNAKEMAKE_ARGS) $(OVERLAYS)

# Pin the full sha256 of the weights files the study uses whose publisher gives none
# (MobileNetV2) or only a prefix (AlexNet, pinned already), fetched from
# weights.sources.<name>.url where the config gives one, else from their official URLs,
# in config/weights.lock.json (docs/reruns.md). No fetch job writes that file. Commit it.
PIN_ARGS ?=
pin-weights: setup
	$(BIN)/python workflow/scripts/pin_weights.py $(PIN_ARGS) $(OVERLAYS)

# Check config files received from elsewhere before passing them to Snakemake, whose
# own merge expands YAML aliases of mappings first (docs/security.md).
check-config: setup
	$(BIN)/python workflow/scripts/check_config.py $(CONFIG)

# config/README.md, every config key, generated from the schema and the registries.
config-docs: setup
	PYTHONPATH=workflow/scripts $(BIN)/python -m cifar_compare.config_docs config/README.md

test: setup
	$(BIN)/pytest

# Benchmark tables of this machine (docs/performance.md); not tests.
bench: setup
	$(BIN)/python bench/bench_torch.py --naive
	$(BIN)/python bench/bench_keras.py --naive
	$(BIN)/python bench/bench_keras.py --naive --models mobilenetv2_pretrained_keras \
		--input-size 224 --batch-size 64 --out bench/out/keras-224
	# The scratch AlexNets in bf16 and in fp32, whatever `auto` picks here.
	for p in bf16 fp32; do \
		$(BIN)/python bench/bench_torch.py --models alexnet_scratch_pytorch --precision $$p \
			--out bench/out/precision-$$p && \
		$(BIN)/python bench/bench_keras.py --models alexnet_scratch_keras --precision $$p \
			--out bench/out/precision-$$p || exit 1; \
	done
	$(BIN)/python bench/precision_table.py bench/out/precision-fp32 bench/out/precision-bf16

lint: setup
	$(BIN)/ruff check workflow tests bench tools
	$(BIN)/ruff format --check workflow tests bench tools
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: setup
	$(BIN)/ruff format workflow tests bench tools
	$(BIN)/ruff check --fix workflow tests bench tools
	$(BIN)/snakefmt Snakefile workflow/rules

# Mutation testing (docs/development.md): mutmut, pinned in requirements-mutation.txt and
# installed by this target only (not by setup, so not in CI), mutates the modules that
# compute the study's numbers or guard its inputs, each against the fast tests that cover
# it, and prints killed/total per module and the surviving mutants. About 25 minutes on
# two cores. MUTATION_ARGS go to tools/mutation.py, e.g. "--max-children 1 config.py".
MUTATION_ARGS ?=
mutation: setup $(VENV)/.mutation-installed
	$(BIN)/python tools/mutation.py $(MUTATION_ARGS)

$(VENV)/.mutation-installed: requirements-mutation.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-mutation.txt -c requirements.txt
	touch $@

# Wheels bench/gpu-check.sh installs on a GPU machine whose Python has PyTorch
# and JAX but neither Keras nor jsonschema, and no network (CPython 3.12, x86-64).
GPU_WHEELS := keras==3.15.1 namex==0.1.0 optree==0.20.0 jsonschema==4.26.0 \
	jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 h5py==3.14.0
# ...and for its Snakemake stage, with their dependencies (numpy is the machine's own).
GPU_PIPELINE_WHEELS := snakemake==9.27.1 pyyaml==6.0.4 pandas==3.1.1 psutil==7.2.2
WHEEL_TARGET := --only-binary=:all: --python-version 3.12 --implementation cp \
	--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
	--platform manylinux2014_x86_64 --platform any -d .whl

gpu-wheels: setup
	$(BIN)/pip download --quiet --no-deps $(WHEEL_TARGET) $(GPU_WHEELS)
	$(BIN)/pip download --quiet $(WHEEL_TARGET) $(GPU_PIPELINE_WHEELS)
	rm -f .whl/numpy-*.whl
