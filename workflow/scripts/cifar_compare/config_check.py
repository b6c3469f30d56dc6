"""Strict checks of the study configuration, for config files passed around as untrusted input.

Snakemake reads every config file itself (PyYAML keeps an alias as one shared
object, so that read stays cheap); these checks run before anything walks the
merged config as if expanded. Each config file is read again, as YAML nodes
only, to refuse duplicate keys, non-standard tags and alias expansion beyond a
small node budget; the merged config is measured the same way; then the schema
is applied with integers that must be ints and numbers that must be finite.
Every message names the file and the key path, never an expanded value.
"""

import json
import math
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import best_match

from cifar_compare.messages import clip, one_line

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


class _NodeCounter:
    """Counts the nodes a YAML document expands to, without expanding it."""

    def __init__(self, where):
        self.where, self.sizes, self.active = where, {}, set()

    def refuse(self, path, reason):
        return ConfigError(f"{self.where}, key {key_path(path)}: {reason}")

    def size(self, node, path):
        if id(node) in self.sizes:
            return self.sizes[id(node)]
        if id(node) in self.active:
            raise self.refuse(path, "a recursive alias")
        if node.tag not in PLAIN_TAGS:
            raise self.refuse(path, f"tag {clip(node.tag, 60)} is not allowed")
        self.active.add(id(node))
        total = 1 + sum(
            self.size(child, child_path) for child, child_path in self.children(node, path)
        )
        self.active.discard(id(node))
        if total > NODE_BUDGET:
            raise self.refuse(path, f"expands to more than {NODE_BUDGET} values (aliases?)")
        self.sizes[id(node)] = total
        return total

    def children(self, node, path):
        if isinstance(node, yaml.SequenceNode):
            return [(item, [*path, index]) for index, item in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            return []
        seen, pairs = set(), []
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.refuse(path, "a mapping key must be a plain value")
            if (key.tag, key.value) in seen:
                raise self.refuse([*path, key.value], "the key appears twice")
            seen.add((key.tag, key.value))
            pairs += [(key, [*path, key.value]), (value, [*path, key.value])]
        return pairs


def _refuse_duplicate_json_keys(pairs):
    keys = [key for key, _ in pairs]
    for key in keys:
        if keys.count(key) > 1:
            raise ConfigError(f"key {key_path([key])} appears twice")
    return dict(pairs)


def _refuse_templates(node, where):
    """A YTE template runs Python; Snakemake has evaluated it already, but the run stops."""
    if isinstance(node, yaml.MappingNode):
        if any(getattr(key, "value", None) == "__use_yte__" for key, _ in node.value):
            raise ConfigError(
                f"{where}, key __use_yte__: YTE templates (Python expressions) are not "
                "accepted in config files"
            )


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
    _refuse_templates(node, where)
    try:
        if node is not None:
            _NodeCounter(where).size(node, [])
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None


def check_expanded_size(config, where="the merged configuration"):
    """Refuse a loaded config whose shared (aliased) parts expand past the node budget."""
    sizes, active = {}, set()

    def size(value, path):
        if not isinstance(value, dict | list):
            return 1
        if id(value) in sizes:
            return sizes[id(value)]
        if id(value) in active:
            raise ConfigError(f"{where}, key {key_path(path)}: a recursive alias")
        active.add(id(value))
        items = value.items() if isinstance(value, dict) else enumerate(value)
        total = 1 + sum(size(child, [*path, key]) for key, child in items)
        active.discard(id(value))
        if total > NODE_BUDGET:
            reason = f"expands to more than {NODE_BUDGET} values (aliases?)"
            raise ConfigError(f"{where}, key {key_path(path)}: {reason}")
        sizes[id(value)] = total
        return total

    try:
        size(config, [])
    except RecursionError:
        raise ConfigError(f"{where}: nested too deeply") from None


def _is_int(checker, value):
    return type(value) is int  # not bool, not 2.0


def _is_finite_number(checker, value):
    return type(value) in (int, float) and math.isfinite(value)


StrictValidator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"integer": _is_int, "number": _is_finite_number}
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
    return one_line(error.message, 300)


def check_schema(config, schema):
    """Validate `config` strictly against `schema`; raise ConfigError naming the key."""
    error = best_match(StrictValidator(schema).iter_errors(config))
    if error is not None:
        raise ConfigError(f"key {key_path(error.absolute_path)}: {_describe(error)}")


def check_weights_sources(config, known):
    for name in config.get("weights", {}).get("sources", {}):
        if name not in known:
            raise ConfigError(
                f"key weights.sources.{clip(name, 60)}: not a known weights name; "
                f"known: {', '.join(sorted(known))}"
            )


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


def check_head_lr_factor(models):
    """optimizer.head_lr_factor is PyTorch's: Keras' pretrained models fine-tune in phases."""
    for name, model in models.items():
        factor = model["optimizer"].get("head_lr_factor", 1.0)
        if model["framework"] == "keras" and factor != 1:
            raise ConfigError(
                f"key models.{clip(name, 60)}.optimizer.head_lr_factor: {factor} is PyTorch "
                "only; a Keras model trains its head first (freeze_base) and the base later "
                "at fine_tune.lr, so remove the key or set it to 1"
            )
