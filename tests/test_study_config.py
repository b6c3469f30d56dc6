"""The config loader used by bench/ and the tests: overlays merged as Snakemake merges
them, then the workflow's own checks (cifar_compare.config)."""

import copy
from pathlib import Path

import pytest
import yaml
from cifar_compare.config import DEFAULT_CONFIG, ROOT, ConfigError, load_study_config, merge_overlay
from snakemake.utils import update_config

OVERLAYS = sorted(p for p in (ROOT / "config").glob("*.yaml") if p != DEFAULT_CONFIG)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_overlays_merge_as_snakemake_merges_them(overlay):
    """Snakemake merges the workflow's config files itself; bench/ runs without it."""
    base = yaml.safe_load(DEFAULT_CONFIG.read_text())
    changes = yaml.safe_load(Path(overlay).read_text()) or {}
    ours = merge_overlay(copy.deepcopy(base), changes)
    update_config(base, changes)
    assert ours == base


def test_invalid_overlay_names_the_key(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("models:\n  alexnet_scratch_pytorch:\n    batch_size: big\n")
    with pytest.raises(
        ConfigError, match="key models.alexnet_scratch_pytorch.batch_size: 'big' is not of type"
    ):
        load_study_config([overlay])


def test_overlays_get_the_snakefile_strictness(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("models:\n  alexnet_scratch_pytorch:\n    epochs: 2.0\n")
    with pytest.raises(ConfigError, match="2.0 is not of type 'integer'"):
        load_study_config([overlay])
    overlay.write_text("data:\n  split_seed: 1\n  split_seed: 2\n")
    with pytest.raises(ConfigError, match="key data.split_seed: the key appears twice"):
        load_study_config([overlay])


RECIPES = yaml.safe_load((ROOT / "workflow/report/original_recipes.yaml").read_text())


def dotted(entry, key):
    for part in key.split("."):
        entry = entry[part]
    return entry


@pytest.mark.parametrize("model", sorted(RECIPES["models"]))
def test_original_config_is_the_original_studys_recipe(model):
    """config/original.yaml, resolved over config/config.yaml, has every setting the
    study's text states (and those we assume where it is silent)."""
    resolved = load_study_config([ROOT / "config/original.yaml"])["models"][model]
    recipe = RECIPES["models"][model]
    for key, value in {**recipe["stated"], **recipe.get("assumed", {})}.items():
        assert dotted(resolved, key) == value, f"{model}.{key}"


def test_original_mobilenet_trains_the_head_on_a_frozen_base_only():
    from cifar_compare.keras.train import plan_phases

    config = load_study_config([ROOT / "config/original.yaml"])
    mobilenet = config["models"]["mobilenetv2_pretrained_keras"]
    [only_phase] = plan_phases(mobilenet, has_base=True)
    assert only_phase.trainable_top is None  # the base stays frozen
    assert (only_phase.first_epoch, only_phase.last_epoch) == (1, 10)
    assert mobilenet["fine_tune"] is None


def test_jax_backend_is_not_offered(tmp_path):
    """JAX is not in requirements.txt and no test trains under it: the config refuses it."""
    overlay = tmp_path / "jax.yaml"
    overlay.write_text("models:\n  alexnet_scratch_keras:\n    backend: jax\n")
    with pytest.raises(ConfigError, match="'jax' is not one of"):
        load_study_config([overlay])


STUDIES = [
    [],
    *([p] for p in OVERLAYS),
    [ROOT / "config/extended.yaml", ROOT / "config/quick.yaml"],
]


@pytest.mark.parametrize("overlays", STUDIES, ids=lambda o: "+".join(p.name for p in o) or "config")
def test_each_study_applies_one_test_time_policy(overlays):
    config = load_study_config(overlays)
    for key, policy in config["evaluation"].items():
        found = {name: model[key] for name, model in config["models"].items()}
        assert set(found.values()) == {policy}, (key, found)


def test_a_model_may_override_the_study_flip(tmp_path):
    overlay = tmp_path / "override.yaml"
    overlay.write_text("models:\n  alexnet_scratch_keras:\n    test_time_flip: false\n")
    models = load_study_config([overlay])["models"]
    assert models["alexnet_scratch_keras"]["test_time_flip"] is False
    assert models["alexnet_scratch_pytorch"]["test_time_flip"] is True  # the study's


def test_a_model_may_override_the_study_shift(tmp_path):
    overlay = tmp_path / "override.yaml"
    overlay.write_text(
        "evaluation:\n  test_time_shift: 2\nmodels:\n  alexnet_scratch_keras:\n"
        "    test_time_shift: 0\n"
    )
    models = load_study_config([overlay])["models"]
    assert models["alexnet_scratch_keras"]["test_time_shift"] == 0  # its own, not null
    assert models["alexnet_scratch_pytorch"]["test_time_shift"] == 2  # the study's
