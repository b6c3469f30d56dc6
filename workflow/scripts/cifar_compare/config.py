"""The study configuration, checked strictly and completed with the schema's defaults:
the one check, for workflow/rules/common.smk, bench/ and the tests. Needs PyYAML and
jsonschema only, so it runs where Snakemake is not installed.

Config files are untrusted: each is read again as YAML nodes only, refusing duplicate
keys, non-standard tags and alias expansion beyond a node budget, before anything walks
the merged config; messages name the file and key path, never an expanded value.
"""

import copy
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, ValidationError, validators
from jsonschema.exceptions import best_match

from cifar_compare.keras import architectures as keras_architectures
from cifar_compare.messages import clip, one_line
from cifar_compare.pytorch import architectures as pytorch_architectures
from cifar_compare.weights import LOCK_FILE_NAME, OFFICIAL_WEIGHTS

NODE_BUDGET = 10_000  # config/config.yaml with extended.yaml on top has about 400
MAX_FILE_BYTES = 1 << 20
PLAIN_TAGS = {
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "merge")
}


class ConfigError(ValueError):
    pass


def key_path(parts):
    """`models.x.seeds.0` from path parts, each part and the whole clipped."""
    return clip(".".join(clip(part, 40) for part in map(str, parts)), 200) or "(top level)"


def _count_nodes(root, where):
    """Refuse a document (YAML nodes or loaded values) whose shared (aliased) parts
    expand past NODE_BUDGET values, counting each shared node once."""
    sizes, active = {}, set()

    def refuse(path, reason):
        return ConfigError(f"{where}, key {key_path(path)}: {reason}")

    def size(node, path):
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in active:
            raise refuse(path, "a recursive alias")
        active.add(id(node))
        total = 1 + sum(size(child, at) for child, at in _children(node, path, refuse))
        active.discard(id(node))
        if total > NODE_BUDGET:
            raise refuse(path, f"expands to more than {NODE_BUDGET} values (aliases?)")
        sizes[id(node)] = total
        return total

    try:
        size(root, [])
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None


def _children(node, path, refuse):
    """(child, key path) pairs of a loaded value or a YAML node; a node with a tag or
    mapping key that is not plain, or a repeated key, is refused."""
    if isinstance(node, dict):
        return [(child, [*path, key]) for key, child in node.items()]
    if isinstance(node, list):
        return [(child, [*path, index]) for index, child in enumerate(node)]
    if not isinstance(node, yaml.Node):
        return []
    if node.tag not in PLAIN_TAGS:
        raise refuse(path, f"tag {clip(node.tag, 60)} is not allowed")
    if isinstance(node, yaml.SequenceNode):
        return [(item, [*path, index]) for index, item in enumerate(node.value)]
    if not isinstance(node, yaml.MappingNode):
        return []
    seen, pairs = set(), []
    for key, value in node.value:
        if not isinstance(key, yaml.ScalarNode):
            raise refuse(path, "a mapping key must be a plain value")
        if (key.tag, key.value) in seen:
            raise refuse([*path, key.value], "the key appears twice")
        seen.add((key.tag, key.value))
        pairs += [(key, [*path, key.value]), (value, [*path, key.value])]
    return pairs


def _refuse_duplicate_json_keys(pairs):
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"key {key_path([key])} appears twice")
    return dict(pairs)


def check_config_file(path):
    """Refuse a config file that is too large, repeats a key, uses tags or expands too far."""
    path = Path(path)
    where = f"config file {clip(path, 120)}"
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_FILE_BYTES} bytes")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        json.loads(text, object_pairs_hook=_refuse_duplicate_json_keys)
        return  # JSON: no aliases, no tags; Snakemake reads it as JSON too
    except ConfigError as error:
        raise ConfigError(f"{where}, {error}") from None
    except (ValueError, RecursionError):
        pass
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except (yaml.YAMLError, RecursionError) as error:
        raise ConfigError(f"{where}: not valid YAML ({one_line(error, 200)})") from None
    finally:
        loader.dispose()
    # A YTE template runs Python; Snakemake has evaluated it already, but the run stops.
    if isinstance(node, yaml.MappingNode) and any(
        getattr(key, "value", None) == "__use_yte__" for key, _ in node.value
    ):
        raise ConfigError(
            f"{where}, key __use_yte__: YTE templates (Python expressions) are not "
            "accepted in config files"
        )
    if node is not None:
        _count_nodes(node, where)


def _whole_pattern(validator, pattern, instance, schema):
    """`pattern` as the schema means it: a final `$` is the string's end. Python's `$`
    also matches before a final newline, which would let `name\\n` into file paths."""
    if not validator.is_type(instance, "string"):
        return
    to_end = pattern.endswith("$") and not pattern.endswith(r"\$")
    whole = pattern[:-1] + r"\Z" if to_end else pattern
    if not re.search(whole, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# What a shell still reads inside double quotes, and line breaks. The SLURM executor
# plugin (2.8.0) hands each job's command line, which names the config files, the
# Snakefile and the working directory, to a shell inside double quotes (`sbatch
# --wrap="..."`), where `$(...)` in a file name would run on the submitting host.
SHELL_ACTIVE = set('$`"\\!') | {chr(code) for code in range(32)} | {chr(127)}


def check_command_line_paths(named_paths):
    """Refuse a path, of {what: [paths]}, that a shell would read as more than a name."""
    for what, paths in named_paths.items():
        for path in paths:
            if active := sorted(set(str(path)) & SHELL_ACTIVE):
                raise ConfigError(
                    f"{what} {clip(path, 120)}: {clip(repr(''.join(active)), 20)} in its "
                    "path; a job's command line passes through a shell (the SLURM "
                    "executor), so rename or move it"
                )


StrictValidator = validators.extend(
    Draft202012Validator,
    {"pattern": _whole_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {
            "integer": lambda _, value: type(value) is int,  # not bool, not 2.0
            "number": lambda _, value: type(value) in (int, float) and math.isfinite(value),
        }
    ),
)


def _describe(error):
    value = error.instance
    if error.validator == "type" and isinstance(value, float):
        if not math.isfinite(value):
            return f"{value} is not a finite number"
        if "integer" in str(error.validator_value):
            written = clip(f"{value:.0f}", 20)
            return f"{value} is not of type 'integer' (write {written}, no decimal point)"
    if error.validator == "const" and "description" in error.schema:
        allowed = f"{clip(repr(value), 40)} is not allowed (only {error.validator_value!r})"
        return one_line(f"{allowed}: {error.schema['description']}", 300)
    return one_line(error.message, 300)


def check_schema(config, schema):
    """Validate `config` strictly against `schema`; raise ConfigError naming the key."""
    error = best_match(StrictValidator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"key {key_path(error.absolute_path)}: {_describe(error)}")


def check_split_sizes(data):
    """With train_per_class set, both the training and the validation split keep images."""
    per_class, fraction = data.get("train_per_class"), data["validation_fraction"]
    if per_class is None or fraction == 0:
        return
    held = int(round(fraction * per_class))
    if not 1 <= held < per_class:
        raise ConfigError(
            f"key data.validation_fraction: {fraction} of data.train_per_class {per_class} "
            f"holds out {held} images per class, so a split would be empty; raise "
            "data.train_per_class or change data.validation_fraction"
        )


def check_curve_sizes(data, curve):
    """With train_per_class set, every learning-curve size fits in the training split
    that the validation hold-out leaves (an archive's own counts are checked by the job)."""
    per_class, sizes = data.get("train_per_class"), curve["sizes"]
    if per_class is None or not sizes:
        return
    available = per_class - int(round(data["validation_fraction"] * per_class))
    if max(sizes) > available:
        raise ConfigError(
            f"key learning_curve.sizes: {max(sizes)} images per class is more than the "
            f"{available} that data.train_per_class {per_class} leaves for training after "
            f"data.validation_fraction {data['validation_fraction']}"
        )


ROOT = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
ARCHITECTURES = {"pytorch": pytorch_architectures.REGISTRY, "keras": keras_architectures.REGISTRY}


def merge_overlay(config, overlay):
    """Recursively update `config` with `overlay` in place (Snakemake's --configfile rule)."""
    for key, value in overlay.items():
        if isinstance(value, Mapping):
            base = config.get(key)
            value = merge_overlay(base if isinstance(base, Mapping) else {}, value)
        config[key] = value
    return config


def _fill_defaults(validator, properties, instance, schema):
    """Fill in each property's schema default, then check the properties."""
    if isinstance(instance, dict):
        for name, subschema in properties.items():
            if "default" in subschema:
                instance.setdefault(name, copy.deepcopy(subschema["default"]))
    yield from StrictValidator.VALIDATORS["properties"](validator, properties, instance, schema)


DefaultsValidator = validators.extend(StrictValidator, {"properties": _fill_defaults})


def check_model(name, model):
    """The model's architecture is in its framework's registry and takes its input size;
    an enabled pretrained model's weights file is one of its own framework's."""
    framework, weights = model["framework"], model["weights"]
    registry, where = ARCHITECTURES[framework], f"key models.{clip(name, 60)}"
    spec = registry.get(model["architecture"])
    if spec is None:
        raise ConfigError(
            f"{where}.architecture: {clip(repr(model['architecture']), 60)} is not one of "
            f"{sorted(registry)} (the {framework} registry)"
        )
    if model["input_size"] < spec.min_input_size:
        raise ConfigError(
            f"{where}.input_size: {model['input_size']} is less than the minimum of "
            f"{spec.min_input_size} ({model['architecture']} needs at least that many px)"
        )
    if not (model["enabled"] and weights):
        return
    if OFFICIAL_WEIGHTS.get(weights, {}).get("framework") != framework:
        known = sorted(k for k, v in OFFICIAL_WEIGHTS.items() if v["framework"] == framework)
        raise ConfigError(
            f"{where}.weights: {clip(repr(weights), 60)} is not a "
            f"known {framework} weights file; known: {', '.join(known)}"
        )


def refuse_moved_lock_file(config):
    """The lock file is the trust anchor: a config that names another one is refused."""
    weights = config.get("weights")
    if isinstance(weights, Mapping) and "lock_file" in weights:
        raise ConfigError(
            f"key weights.lock_file: not settable; weights are always checked against "
            f"{LOCK_FILE_NAME} of this checkout (pin with `make pin-weights`), so remove the key"
        )


def check_study_config(config, files=()):
    """Check the config `files`, then the `config` merged from them, strictly, and fill
    in the schema's defaults in place; raises ConfigError naming the file or key."""
    for path in dict.fromkeys(files):
        check_config_file(path)
    _count_nodes(config, "the merged configuration")
    refuse_moved_lock_file(config)
    schema = yaml.safe_load(SCHEMA.read_text())
    check_schema(config, schema)  # on what was written, before any default
    DefaultsValidator(schema).validate(config)
    for name in config["weights"]["sources"]:
        if name not in OFFICIAL_WEIGHTS:
            raise ConfigError(
                f"key weights.sources.{clip(name, 60)}: not a known weights name; "
                f"known: {', '.join(sorted(OFFICIAL_WEIGHTS))}"
            )
    check_split_sizes(config["data"])
    check_curve_sizes(config["data"], config["learning_curve"])
    for name, model in config["models"].items():
        check_model(name, model)
        resolve_evaluation(model, config["evaluation"])
    return config


def resolve_evaluation(model, evaluation):
    """A model without its own test-time views takes the study's (evaluation.*)."""
    for key, study_value in evaluation.items():
        if model[key] is None:
            model[key] = study_value


def load_study_config(overlays=()):
    """config/config.yaml with `overlays` merged on top, checked and completed."""
    config = {}
    for path in [DEFAULT_CONFIG, *overlays]:
        check_config_file(path)  # before PyYAML expands any alias
        merge_overlay(config, yaml.safe_load(Path(path).read_text()) or {})
    return check_study_config(config)
