"""Config abuse: each is refused with a message naming the file and key path, never a value
expanded from aliases, and cheaply (the checks never expand anything)."""

import copy
import time

import pytest
import yaml
from cifar_compare.config import (
    DEFAULT_CONFIG,
    SCHEMA,
    ConfigError,
    _count_nodes,
    check_command_line_paths,
    check_config_file,
    check_schema,
    check_study_config,
    key_path,
    load_study_config,
    merge_overlay,
    refuse_moved_lock_file,
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
        ConfigError,
        match=r"^the merged configuration, key data.url[.0-9]*: expands to more than 10000 "
        r"values \(aliases\?\)$",
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
            "['alexnet', 'alexnet_cifar', 'alexnet_cifar_bn', 'alexnet_cifar_bn_gap', "
            "'alexnet_cifar_lrn'] "
            "(the pytorch registry)",
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


@pytest.mark.parametrize(
    "overlay, message",
    [
        ({"evaluation": {"test_time_shift": -1}}, "key evaluation.test_time_shift: -1 is less"),
        ({"evaluation": {"test_time_shift": 9}}, "key evaluation.test_time_shift: 9 is greater"),
        ({"evaluation": {"test_time_shift": 1.5}}, "key evaluation.test_time_shift: 1.5 is not"),
        (
            {"models": {"alexnet_scratch_pytorch": {"test_time_shift": 9}}},
            f"key {MODEL}.test_time_shift: 9 is greater than the maximum of 8",
        ),
    ],
    ids=["study-negative", "study-past-8", "study-fraction", "model-past-8"],
)
def test_a_test_time_shift_out_of_range_is_refused(overlay, message):
    """A shift is whole pixels, at most 8 of a 32-pixel image (a quarter of it)."""
    with pytest.raises(ConfigError) as refused:
        check_study_config(merged(overlay))
    assert str(refused.value).startswith(message)


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


def refusal(config, files=()):
    with pytest.raises(ConfigError) as refused:
        check_study_config(config, files)
    return str(refused.value)


def test_key_paths_clip_each_part_to_40_characters_and_the_whole_to_200():
    assert key_path([]) == "(top level)"
    assert key_path(["models", "m" * 50, "seeds", 0]) == f"models.{'m' * 37}....seeds.0"
    assert key_path(["k" * 39] * 6) == ("k" * 39 + ".") * 4 + "k" * 37 + "..."


def test_a_shell_active_path_is_named_clipped_with_its_characters():
    path = "/" + "d" * 150 + "/a$b`c.yaml"
    with pytest.raises(ConfigError) as refused:
        check_command_line_paths({"config file": [path]})
    assert str(refused.value) == (
        f"config file {path[:117]}...: '$`' in its path; a job's command line passes "
        "through a shell (the SLURM executor), so rename or move it"
    )
    with pytest.raises(ConfigError) as refused:  # five control characters: 22 of repr
        check_command_line_paths({"config file": ["a\x01\x02\x03\x04\x05"]})
    assert str(refused.value).startswith(r"config file a?????: '\x01\x02\x03\x04... in its path")


def test_long_names_and_values_are_clipped_in_config_messages():
    assert refusal(merged({"models": {"alexnet_scratch_pytorch": {"epochs": 1e30}}})) == (
        f"key {MODEL}.epochs: 1e+30 is not of type 'integer' "
        "(write 10000000000000000..., no decimal point)"
    )
    message = refusal(merged({"models": {"alexnet_scratch_pytorch": {"batch_size": "b" * 400}}}))
    assert message == f"key {MODEL}.batch_size: '{'b' * 296}..."  # the reason to 300
    name = "m" * 64  # the longest name the schema allows
    entry = {**BASE["models"]["alexnet_scratch_pytorch"], "architecture": "v" * 70}
    assert refusal(merged({"models": {name: entry}})) == (
        f"key models.{'m' * 57}....architecture: '{'v' * 56}... is not one of "
        "['alexnet', 'alexnet_cifar', 'alexnet_cifar_bn', 'alexnet_cifar_bn_gap', "
        "'alexnet_cifar_lrn'] "
        "(the pytorch registry)"
    )
    sources = {"weights": {"sources": {"s" * 64: {"url": "/x"}}}}
    assert refusal(merged(sources)) == (
        f"key weights.sources.{'s' * 57}...: not a known weights name; known: "
        "alexnet_imagenet1k_v1, efficientnet_b0_imagenet_no_top, "
        "mobilenet_v2_imagenet_no_top_128, mobilenet_v2_imagenet_no_top_160, "
        "mobilenet_v2_imagenet_no_top_192, mobilenet_v2_imagenet_no_top_224, "
        "mobilenet_v2_imagenet_no_top_96, resnet50_imagenet_no_top, vgg16_imagenet_no_top"
    )


def test_unknown_weights_are_refused_listing_the_frameworks_own():
    keras = "models.mobilenetv2_pretrained_keras"
    overlay = {"models": {"mobilenetv2_pretrained_keras": {"weights": "w" * 70}}}
    assert refusal(merged(overlay)) == (
        f"key {keras}.weights: '{'w' * 56}... is not a known keras weights file; known: "
        "efficientnet_b0_imagenet_no_top, mobilenet_v2_imagenet_no_top_128, "
        "mobilenet_v2_imagenet_no_top_160, mobilenet_v2_imagenet_no_top_192, "
        "mobilenet_v2_imagenet_no_top_224, mobilenet_v2_imagenet_no_top_96, "
        "resnet50_imagenet_no_top, vgg16_imagenet_no_top"
    )
    overlay = {"models": {"alexnet_pretrained_pytorch": {"weights": "my_weights"}}}
    assert refusal(merged(overlay)) == (
        "key models.alexnet_pretrained_pytorch.weights: 'my_weights' is not a known pytorch "
        "weights file; known: alexnet_imagenet1k_v1"
    )


@pytest.mark.parametrize(("per_class", "fraction"), [(5, 0.2), (2, 0.0)])
def test_a_split_holding_out_one_image_or_none_at_all_is_accepted(per_class, fraction):
    """0.2 of 5 holds out 1 image per class; a fraction of 0 holds out none (no split)."""
    check_study_config(
        merged({"data": {"train_per_class": per_class, "validation_fraction": fraction}})
    )


def test_an_empty_split_is_refused_saying_what_to_change():
    config = merged({"data": {"train_per_class": 3, "validation_fraction": 0.1}})
    assert refusal(config) == (
        "key data.validation_fraction: 0.1 of data.train_per_class 3 holds out 0 images per "
        "class, so a split would be empty; raise data.train_per_class or change "
        "data.validation_fraction"
    )


def curve_config(sizes, per_class=20, fraction=0.2):
    data = {"train_per_class": per_class, "validation_fraction": fraction}
    return merged({"data": data, "learning_curve": {"sizes": sizes}})


def test_the_largest_curve_size_may_use_every_image_the_hold_out_leaves():
    check_study_config(curve_config([16, 4]))  # 20 per class, 4 held out: 16 left
    check_study_config(curve_config([20], fraction=0.0))
    check_study_config(merged({"learning_curve": {"sizes": [5000]}}))  # the archive decides


def test_a_curve_size_beyond_the_training_split_is_refused_with_the_numbers():
    assert refusal(curve_config([4, 17])) == (
        "key learning_curve.sizes: 17 images per class is more than the 16 that "
        "data.train_per_class 20 leaves for training after data.validation_fraction 0.2"
    )


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        ({"sizes": [0]}, "key learning_curve.sizes.0: 0 is less than the minimum of 1"),
        ({"sizes": [5, 5]}, "key learning_curve.sizes: [5, 5] has non-unique elements"),
        ({"schedule": {"policy": "steps"}}, "key learning_curve.schedule.policy: 'steps' is"),
        (
            {"schedule": {"max_epochs": 1001}},
            "key learning_curve.schedule.max_epochs: 1001 is greater than the maximum of 1000",
        ),
    ],
)
def test_the_curve_keys_are_checked_by_the_schema(curve, message):
    assert refusal(merged({"learning_curve": curve})).startswith(message)


def test_a_moved_lock_file_is_refused_and_the_files_are_checked_first(tmp_path):
    assert refuse_moved_lock_file({"weights": {"allow_unofficial": False}}) is None
    assert refusal(merged({"weights": {"lock_file": "my-pins.json"}})) == (
        "key weights.lock_file: not settable; weights are always checked against "
        "config/weights.lock.json of this checkout (pin with `make pin-weights`), so remove "
        "the key"
    )
    repeated = tmp_path / "overlay.yaml"
    repeated.write_text("data:\n  split_seed: 1\n  split_seed: 2\n")
    assert refusal(merged({}), [repeated]) == (
        f"config file {repeated}, key data.split_seed: the key appears twice"
    )


def test_ten_thousand_values_are_counted_ten_thousand_and_one_refused():
    _count_nodes({"a": ["x"] * 9998}, "w")  # the mapping, the list and 9998 strings
    with pytest.raises(ConfigError, match=r"^w, key \(top level\): expands to more than 10000"):
        _count_nodes({"a": ["x"] * 9999}, "w")  # the list holds 10000 values, the mapping 10001
    shared = ["x"] * 9000  # counted once, not once per reference: refused at once
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"^w, key \(top level\): expands"):
        _count_nodes([shared] * 100_000, "w")  # 900 million values if expanded
    assert time.monotonic() - started < 10
    deep = []
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(ConfigError, match="^w: nested too deeply$"):
        _count_nodes(deep, "w")


def file_refusal(path, text):
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError) as refused:
        check_config_file(path)
    return str(refused.value)


def test_config_file_refusals_name_the_file_clipped_and_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    assert file_refusal(path, f"a: !{'t' * 100} x\n") == (
        f"config file {path}, key a: tag !{'t' * 56}... is not allowed"
    )
    assert file_refusal(path, "data:\n  ? [a]\n  : 1\n") == (
        f"config file {path}, key data: a mapping key must be a plain value"
    )
    assert file_refusal(path, "__use_yte__: true\n") == (
        f"config file {path}, key __use_yte__: YTE templates (Python expressions) are not "
        "accepted in config files"
    )
    long = tmp_path / ("f" * 150 + ".yaml")
    assert file_refusal(long, "a: 1\na: 2\n") == (
        f"config file {str(long)[:117]}..., key a: the key appears twice"
    )
    # bytes that are not UTF-8 are read as U+FFFD, so the duplicate key is still named
    assert file_refusal(path, b"a: \xff\na: 2\n").endswith(", key a: the key appears twice")


def test_a_config_file_of_one_mib_is_read_one_byte_more_refused(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: 1\n#" + "x" * (2**20 - 6))
    check_config_file(path)
    assert file_refusal(path, path.read_text() + "x") == (
        f"config file {path}: larger than 1048576 bytes"
    )


def test_invalid_yaml_is_refused_with_the_parsers_reason_on_one_line_of_200(tmp_path):
    text = "a:\n  - b\n c: " + "d" * 100 + "\n"  # two marks, each with its line
    with pytest.raises(yaml.YAMLError) as parsed:
        yaml.safe_load(text)
    reason = " ".join(str(parsed.value).split())
    assert len(reason) > 200
    path = tmp_path / "c.yaml"
    assert file_refusal(path, text) == f"config file {path}: not valid YAML ({reason[:197]}...)"


def test_patterns_end_only_at_a_final_unescaped_dollar():
    check_schema("abc", {"pattern": "^a"})  # no $: a prefix
    check_schema("a$", {"pattern": r"^a\$"})  # an escaped $ is the character
    with pytest.raises(ConfigError, match=r"^key \(top level\): 'a\\n' does not match '\^a\$'$"):
        check_schema("a\n", {"pattern": "^a$"})
