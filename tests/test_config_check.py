"""Config abuse: each is refused with a message naming the file and key path, never a value
expanded from aliases, and cheaply (the checks never expand anything)."""

import copy

import pytest
import yaml
from cifar_compare.config import (
    DEFAULT_CONFIG,
    SCHEMA,
    ConfigError,
    check_command_line_paths,
    check_config_file,
    check_schema,
    check_study_config,
    load_study_config,
    merge_overlay,
)

BASE = yaml.safe_load(DEFAULT_CONFIG.read_text())
SCHEMA_DICT = yaml.safe_load(SCHEMA.read_text())
MODEL = "models.alexnet_scratch_pytorch"


def alias_bomb(levels, width=10):
    """A few hundred bytes of YAML that expand to width**levels values."""
    lines = ['a0: &a0 ["xxxxxxxxxx"]']
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + f"\ndata:\n  url: *a{levels}\n"


def mapping_bomb(levels, width=10):
    """The same built from mappings, which Snakemake's config merge copies (expands)."""
    lines = ['a0: &a0 {x: "xxxxxxxxxx"}']
    for level in range(1, levels + 1):
        refs = ", ".join(f"k{i}: *a{level - 1}" for i in range(width))
        lines.append(f"a{level}: &a{level} {{{refs}}}")
    return "\n".join(lines) + f"\ndata: *a{levels}\n"


@pytest.mark.parametrize(
    "text, message",
    [
        (alias_bomb(9), "key a4: expands to more than 10000 values"),
        (mapping_bomb(9), "key a4: expands to more than 10000 values"),
        ("data:\n  split_seed: 1\n  split_seed: 2\n", "key data.split_seed: the key appears twice"),
        ('{"data": {"md5": "a", "md5": "b"}}', "key md5 appears twice"),
        ("a: &a [*a]\n", "key a.0: a recursive alias"),
        ("data:\n  url: !!python/name:os.system\n", "key data.url: tag tag:yaml.org,2002:python"),
        ("[" * 5000, "not valid YAML"),
        ("__use_yte__: true\ndata:\n  url: ?str(6*7)\n", "key __use_yte__: YTE templates"),
    ],
    ids=[
        "alias-bomb",
        "mapping-bomb",
        "duplicate-key",
        "duplicate-json",
        "recursive",
        "python-tag",
        "deep",
        "yte",
    ],
)
def test_config_file_abuse(tmp_path, text, message):
    path = tmp_path / "overlay.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        check_config_file(path)
    assert f"config file {path}" in str(refused.value) and message in str(refused.value)
    assert "xxxxxxxxxx" not in str(refused.value) and len(str(refused.value)) < 600


def test_shipped_config_files_pass():
    for path in sorted(DEFAULT_CONFIG.parent.glob("*.yaml")):
        check_config_file(path)


def test_expanded_loaded_config_is_refused_without_expanding():
    shared = ["x"] * 10
    for _ in range(9):  # 10**10 values if expanded
        shared = [shared] * 10
    with pytest.raises(
        ConfigError, match=r"key data.url[.0-9]*: expands to more than 10000 values"
    ):
        check_study_config({"data": {"url": shared}})


def merged(overlay):
    return merge_overlay(copy.deepcopy(BASE), overlay)


@pytest.mark.parametrize(
    "overlay, message",
    [
        (
            {"models": {"alexnet_scratch_pytorch": {"epochs": 2.0}}},
            f"key {MODEL}.epochs: 2.0 is not of type 'integer' (write 2, no decimal point)",
        ),
        (
            {"models": {"alexnet_scratch_pytorch": {"batch_size": 16.0}}},
            f"key {MODEL}.batch_size: 16.0 is not of type 'integer'",
        ),
        (
            {"models": {"alexnet_scratch_pytorch": {"seeds": [1.0]}}},
            f"key {MODEL}.seeds.0: 1.0 is not of type 'integer'",
        ),
        ({"data": {"split_seed": True}}, "key data.split_seed: True is not of type 'integer'"),
        (
            {
                "models": {
                    "alexnet_scratch_pytorch": {"optimizer": {"name": "sgd", "lr": float("nan")}}
                }
            },
            f"key {MODEL}.optimizer.lr: nan is not a finite number",
        ),
        (
            {
                "models": {
                    "alexnet_scratch_pytorch": {
                        "optimizer": {"name": "sgd", "lr": 0.1, "momentum": float("inf")}
                    }
                }
            },
            f"key {MODEL}.optimizer.momentum: inf is not a finite number",
        ),
        (
            {"models": {"alexnet_scratch_pytorch": {"label_smoothing": float("nan")}}},
            f"key {MODEL}.label_smoothing: nan is not a finite number",
        ),
        (
            {"data": {"validation_fraction": float("nan")}},
            "key data.validation_fraction: nan is not",
        ),
        ({"data": {"url": "x" * 10**6, "md5": 5}}, "key data.md5: 5 is not of type 'string'"),
    ],
    ids=[
        "epochs",
        "batch_size",
        "seeds",
        "bool",
        "nan-lr",
        "inf-momentum",
        "nan-smoothing",
        "nan-fraction",
        "long-value",
    ],
)
def test_schema_is_strict(overlay, message):
    with pytest.raises(ConfigError) as refused:
        check_schema(merged(overlay), SCHEMA_DICT)
    assert str(refused.value) == message or str(refused.value).startswith(message)
    assert len(str(refused.value)) < 600


def test_unknown_weights_source_is_refused():
    config = merged({"weights": {"sources": {"alexnet_v2": {"url": "/x"}}}})
    with pytest.raises(ConfigError, match="key weights.sources.alexnet_v2: not a known weights"):
        check_study_config(config)


@pytest.mark.parametrize("per_class, fraction", [(2, 0.2), (3, 0.1), (10, 0.04)])
def test_empty_split_is_refused(per_class, fraction):
    config = merged({"data": {"train_per_class": per_class, "validation_fraction": fraction}})
    with pytest.raises(
        ConfigError, match="key data.validation_fraction: .* a split would be empty"
    ):
        check_study_config(config)


@pytest.mark.parametrize(
    "model, message",
    [
        (
            {"architecture": "vgg19"},
            f"key {MODEL}.architecture: 'vgg19' is not one of "
            "['alexnet', 'alexnet_cifar', 'alexnet_cifar_bn'] (the pytorch registry)",
        ),
        (
            {"architecture": "alexnet", "input_size": 40},
            f"key {MODEL}.input_size: 40 is less than the minimum of 63 "
            "(alexnet needs at least that many px)",
        ),
    ],
    ids=["unknown-architecture", "too-small-input"],
)
def test_architectures_and_input_sizes_come_from_the_registry(model, message):
    """The registries, not the schema, say which architectures exist and what they take."""
    with pytest.raises(ConfigError) as refused:
        check_study_config(merged({"models": {"alexnet_scratch_pytorch": model}}))
    assert str(refused.value) == message


def test_weights_of_the_other_framework_are_refused():
    overlay = {"models": {"mobilenetv2_pretrained_keras": {"weights": "alexnet_imagenet1k_v1"}}}
    with pytest.raises(ConfigError, match="'alexnet_imagenet1k_v1' is not a known keras weights"):
        check_study_config(merged(overlay))


def test_defaults_are_filled_per_model():
    config = check_study_config(merged({}))
    first, second = list(config["models"].values())[:2]
    assert first["schedule"]["final_factor"] == 0.0 and first["precision"] == "auto"
    first["optimizer"]["betas"].append("changed")
    assert "changed" not in second["optimizer"]["betas"]


@pytest.mark.parametrize("path", sorted(DEFAULT_CONFIG.parent.glob("*.yaml")), ids=str)
def test_shipped_configs_pass_every_check(path):
    load_study_config([path])


def test_head_lr_factor_is_refused_for_keras():
    keras_model = {"optimizer": {"name": "adam", "lr": 0.001, "head_lr_factor": 10}}
    with pytest.raises(
        ConfigError,
        match=r"key models.alexnet_scratch_keras.optimizer.head_lr_factor: 10 is not allowed "
        r"\(only 1\): PyTorch only",
    ):
        check_study_config(merged({"models": {"alexnet_scratch_keras": keras_model}}))
    keras_model["optimizer"]["head_lr_factor"] = 1
    check_study_config(merged({"models": {"alexnet_scratch_keras": keras_model}}))


def schema_patterns(node):
    """Every `pattern` in the config schema."""
    if isinstance(node, dict):
        yield from [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        for value in node.values():
            yield from schema_patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_patterns(value)


# A value each schema pattern accepts; a pattern added to the schema needs one here.
PATTERN_EXAMPLES = {
    "^[0-9a-f]{32}$": "0" * 32,
    "^[0-9a-f]{64}$": "0" * 64,
    "^[a-z0-9_]+$": "alexnet_imagenet1k_v1",
    "^[A-Za-z0-9][A-Za-z0-9_]*$": "vgg16_keras",
}


@pytest.mark.parametrize("pattern", sorted(set(schema_patterns(SCHEMA_DICT))))
def test_no_pattern_accepts_a_final_newline(pattern):
    """Python's `$` matches before a final newline: `name\\n` would reach file paths."""
    valid = PATTERN_EXAMPLES[pattern]
    check_schema(valid, {"pattern": pattern})
    with pytest.raises(ConfigError, match="does not match"):
        check_schema(valid + "\n", {"pattern": pattern})


@pytest.mark.parametrize(
    "overlay, message",
    [
        (
            {"models": {"alexnet\n": BASE["models"]["alexnet_scratch_pytorch"]}},
            r"key models: 'alexnet\n' does not match",
        ),
        (
            {"models": {"a" * 65: BASE["models"]["alexnet_scratch_pytorch"]}},
            "key models: 'aaaaaaaaaa",
        ),
        ({"data": {"md5": "0" * 32 + "\n"}}, "key data.md5: '00000000"),
        (
            {"models": {"alexnet_scratch_pytorch": {"seeds": [2**31]}}},
            f"key {MODEL}.seeds.0: 2147483648 is greater than the maximum of 2147483647",
        ),
    ],
    ids=["model-name-newline", "model-name-65-characters", "md5-newline", "huge-seed"],
)
def test_names_that_would_break_late_are_refused(overlay, message):
    """Each becomes a path, a job name or a label: refused when the workflow loads."""
    with pytest.raises(ConfigError) as refused:
        check_study_config(merged(overlay))
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)


@pytest.mark.parametrize("name", ["a$(id).yaml", "a`id`.yaml", 'a".yaml', "a\\.yaml", "a\n.yaml"])
def test_paths_a_shell_would_read_are_refused(name):
    with pytest.raises(ConfigError, match=r"^config file /w/a.*\.yaml: '.*' in its path; a job"):
        check_command_line_paths({"config file": ["config/config.yaml", f"/w/{name}"]})
    check_command_line_paths({"config file": ["/w/a b-c_d.e+f@g,h=i~j.yaml"]})


def test_check_config_script_refuses_a_mapping_bomb_cheaply(tmp_path):
    """What to run on a received file before Snakemake merges (expands) it: refused
    within 2 GiB of address space, where the expanded file would need hundreds of GB."""
    import resource
    import subprocess
    import sys

    def two_gib():
        resource.setrlimit(resource.RLIMIT_AS, (2**31, 2**31))

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(mapping_bomb(9))
    script = DEFAULT_CONFIG.parents[1] / "workflow/scripts/check_config.py"
    done = subprocess.run(
        [sys.executable, script, bomb], capture_output=True, text=True, preexec_fn=two_gib
    )
    assert done.returncode == 1 and done.stdout == ""
    refusal = f"config file {bomb}, key a4: expands to more than 10000 values (aliases?)"
    assert done.stderr == f"invalid configuration, {refusal}\n"
