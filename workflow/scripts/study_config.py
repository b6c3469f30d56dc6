"""Load the study configuration outside Snakemake, as the Snakefile does.

Overlays are merged on top of config/config.yaml and the result is validated
against the schema with its defaults filled in. This module needs only PyYAML
and jsonschema (not Snakemake), so the benchmark runs where Snakemake is not
installed; tests/test_study_config.py checks it agrees with Snakemake's own
`update_config` and `validate`.
"""

import copy
from collections.abc import Mapping
from pathlib import Path

import yaml
from cifar_compare.config_check import StrictValidator, check_config_file
from jsonschema import validators

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


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


def validate_config(config, schema_path=SCHEMA):
    """Validate in place, filling defaults; raises jsonschema.ValidationError.

    Strict like the Snakefile's check: integers must be ints, numbers finite.
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    _with_defaults(StrictValidator)(schema).validate(config)
    return config


def load_study_config(overlays=()):
    """The merged, validated config; each file first passes the Snakefile's file checks
    (duplicate keys, tags, alias bombs: config_check.ConfigError)."""
    check_config_file(DEFAULT_CONFIG)
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for overlay in overlays:
        check_config_file(overlay)
        merge_overlay(config, yaml.safe_load(Path(overlay).read_text()) or {})
    return validate_config(config)
