"""The study configuration, checked and completed with the schema's defaults: the one
check, for workflow/rules/common.smk (on the config Snakemake merged), bench/ and the
tests (load_study_config merges overlays as Snakemake's --configfile does). Needs
PyYAML and jsonschema only, so it runs where Snakemake is not installed.
"""

import copy
from collections.abc import Mapping
from pathlib import Path

import yaml
from jsonschema import validators

from cifar_compare.config_check import (
    ConfigError,
    StrictValidator,
    check_config_file,
    check_expanded_size,
    check_schema,
    check_split_sizes,
    check_weights_sources,
)
from cifar_compare.keras import architectures as keras_architectures
from cifar_compare.messages import clip
from cifar_compare.pytorch import architectures as pytorch_architectures
from cifar_compare.weights import OFFICIAL_WEIGHTS

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
ARCHITECTURES = {
    "pytorch": pytorch_architectures.REGISTRY,
    "keras": keras_architectures.REGISTRY,
}


def merge_overlay(config, overlay):
    """Recursively update `config` with `overlay` in place (Snakemake's --configfile rule)."""
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(config.get(key), Mapping):
            merge_overlay(config[key], value)
        elif isinstance(value, Mapping):
            config[key] = merge_overlay({}, value)
        else:
            config[key] = value
    return config


def _with_defaults(validator_class):
    """A validator that fills in each property's schema default before checking it."""
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": fill_then_check})


DefaultsValidator = _with_defaults(StrictValidator)


def check_architecture(name, model):
    """The model's architecture is in its framework's registry and takes its input size."""
    registry = ARCHITECTURES[model["framework"]]
    where = f"key models.{clip(name, 60)}"
    spec = registry.get(model["architecture"])
    if spec is None:
        raise ConfigError(
            f"{where}.architecture: {clip(repr(model['architecture']), 60)} is not one of "
            f"{sorted(registry)} (the {model['framework']} registry)"
        )
    if model["input_size"] < spec.min_input_size:
        raise ConfigError(
            f"{where}.input_size: {model['input_size']} is less than the minimum of "
            f"{spec.min_input_size} ({model['architecture']} needs at least that many px)"
        )


def check_weights_framework(name, model):
    """A pretrained model's weights file is one of its own framework's."""
    weights, framework = model["weights"], model["framework"]
    if weights and OFFICIAL_WEIGHTS.get(weights, {}).get("framework") != framework:
        known = sorted(k for k, v in OFFICIAL_WEIGHTS.items() if v["framework"] == framework)
        raise ConfigError(
            f"key models.{clip(name, 60)}.weights: {clip(repr(weights), 60)} is not a "
            f"known {framework} weights file; known: {', '.join(known)}"
        )


def check_study_config(config, files=()):
    """Check the config `files`, then the `config` merged from them, strictly, and fill
    in the schema's defaults in place; raises ConfigError naming the file or key."""
    for path in dict.fromkeys(files):
        check_config_file(path)
    check_expanded_size(config)
    schema = yaml.safe_load(SCHEMA.read_text())
    check_schema(config, schema)  # on what was written, before any default
    DefaultsValidator(schema).validate(config)
    check_weights_sources(config, OFFICIAL_WEIGHTS)
    check_split_sizes(config["data"])
    for name, model in config["models"].items():
        check_architecture(name, model)
        if model["enabled"]:
            check_weights_framework(name, model)
    return config


def load_study_config(overlays=()):
    """config/config.yaml with `overlays` merged on top, checked and completed."""
    files = [DEFAULT_CONFIG, *overlays]
    for path in files:
        check_config_file(path)  # before PyYAML expands any alias
    config = {}
    for path in files:
        merge_overlay(config, yaml.safe_load(Path(path).read_text()) or {})
    return check_study_config(config)
