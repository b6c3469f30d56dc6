import os
import sys
from pathlib import Path

import jsonschema
import yaml

# The workflow's own pure-Python helpers (no framework imports at DAG build).
sys.path.insert(0, os.path.join(workflow.current_basedir, "..", "scripts"))
from cifar_compare.hardware import machine_has_gpu
from cifar_compare.weights import OFFICIAL_WEIGHTS, file_suffix

CONFIG_SCHEMA = "../schemas/config.schema.yaml"
# Shared by both frameworks' rules, so aggregation and the report need no branches.
RUN_DIR = "results/models/{model}/seed{seed}"
HISTORY = f"{RUN_DIR}/history.csv"
# Per-epoch training state: not a rule output, so a failed job's state survives
# for the next attempt to resume from; a finished job removes it.
RESUME_DIR = "results/resume/{model}/seed{seed}"
METRICS = "results/metrics/{model}/seed{seed}.json"
TRAIN_BENCHMARK = "results/benchmarks/train/{model}/seed{seed}.tsv"
EVALUATE_BENCHMARK = "results/benchmarks/evaluate/{model}/seed{seed}.tsv"


def check_config(config):
    """Validate against the schema with an error naming the key, then fill defaults."""
    schema = yaml.safe_load(Path(workflow.source_path(CONFIG_SCHEMA)).read_text())
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise WorkflowError(f"invalid configuration, key {key}: {error.message}")
    validate(config, workflow.source_path(CONFIG_SCHEMA), set_default=True)
    for name, model in enabled_models().items():
        weights = model["weights"]
        if (
            weights
            and OFFICIAL_WEIGHTS.get(weights, {}).get("framework") != model["framework"]
        ):
            known = sorted(
                k
                for k, v in OFFICIAL_WEIGHTS.items()
                if v["framework"] == model["framework"]
            )
            raise WorkflowError(
                f"invalid configuration, key models.{name}.weights: {weights!r} is not a "
                f"known {model['framework']} weights file; known: {', '.join(known)}"
            )


def keras_conda_env():
    """The Keras rules' conda env: TensorFlow's GPU build where this machine has an
    NVIDIA GPU or CIFAR_COMPARE_CONDA_GPU=1 (a login node submitting to GPU nodes)."""
    gpu = os.environ.get("CIFAR_COMPARE_CONDA_GPU") == "1" or machine_has_gpu()
    return "../../envs/keras-gpu.yaml" if gpu else "../../envs/keras.yaml"


KERAS_CONDA_ENV = keras_conda_env()


def enabled_models():
    return {name: m for name, m in config["models"].items() if m["enabled"]}


def models_of(framework):
    """Regex alternation of the enabled models of one framework (a wildcard constraint)."""
    names = [n for n, m in enabled_models().items() if m["framework"] == framework]
    return "|".join(names) if names else "(?!)"


def model_config(wildcards):
    return config["models"][wildcards.model]


def train_inputs(wildcards):
    """Prepared data, plus the weights file and its provenance for pretrained models."""
    inputs = {"prepared": rules.prepare_data.output.prepared}
    weights = model_config(wildcards)["weights"]
    if weights:
        fetched = rules.fetch_weights.output
        where = {"weights": weights, "suffix": file_suffix(weights)}
        inputs["weights"] = expand(fetched.weights, **where)[0]
        inputs["provenance"] = expand(fetched.provenance, **where)[0]
    return inputs


def weights_url(wildcards):
    """The configured source of a weights file; None means its official URL."""
    source = config["weights"]["sources"].get(wildcards.weights)
    return source["url"] if source else None


def model_seed_paths(pattern):
    """`pattern` expanded for every enabled (model, seed), in config order."""
    return [
        expand(pattern, model=name, seed=seed)[0]
        for name, model in enabled_models().items()
        for seed in model["seeds"]
    ]


def metrics_files():
    """Every (model, seed) pair's metrics file: the targets of the whole study."""
    return model_seed_paths(METRICS)


# --- report helpers ---


def history_files():
    """Every (model, seed) pair's training history, in the order of metrics_files()."""
    return model_seed_paths(HISTORY)


def benchmark_files():
    """Timings of data preparation and of every (model, seed) train and evaluate job."""
    return [
        rules.prepare_data.benchmark,
        *model_seed_paths(TRAIN_BENCHMARK),
        *model_seed_paths(EVALUATE_BENCHMARK),
    ]


def report_models():
    """Model name -> seeds of every enabled model: all that the report may show."""
    return {name: model["seeds"] for name, model in enabled_models().items()}
