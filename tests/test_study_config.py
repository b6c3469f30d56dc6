"""The Snakemake-free config loader used by bench/ agrees with Snakemake's own."""

from pathlib import Path

import jsonschema
import pytest
import yaml
from snakemake.utils import update_config, validate
from study_config import DEFAULT_CONFIG, ROOT, SCHEMA, load_study_config

OVERLAYS = sorted(p for p in (ROOT / "config").glob("*.yaml") if p != DEFAULT_CONFIG)


def snakemake_config(overlay):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    if overlay:
        update_config(config, yaml.safe_load(Path(overlay).read_text()) or {})
    validate(config, str(SCHEMA), set_default=True)
    return config


@pytest.mark.parametrize("overlay", [None, *OVERLAYS], ids=lambda p: p.name if p else "none")
def test_same_config_as_snakemake(overlay):
    ours = load_study_config([overlay] if overlay else [])
    assert ours == snakemake_config(overlay)


def test_defaults_are_not_shared_between_models():
    config = load_study_config()
    first, second = list(config["models"].values())[:2]
    first["optimizer"]["betas"].append("changed")
    assert "changed" not in second["optimizer"]["betas"]


def test_invalid_overlay_names_the_key(tmp_path):
    overlay = tmp_path / "bad.yaml"
    overlay.write_text("models:\n  alexnet_scratch_pytorch:\n    batch_size: big\n")
    with pytest.raises(jsonschema.ValidationError, match="'big' is not of type 'integer'"):
        load_study_config([overlay])


def test_overlays_get_the_snakefile_strictness(tmp_path):
    from cifar_compare.config_check import ConfigError

    overlay = tmp_path / "bad.yaml"
    overlay.write_text("models:\n  alexnet_scratch_pytorch:\n    epochs: 2.0\n")
    with pytest.raises(jsonschema.ValidationError, match="2.0 is not of type 'integer'"):
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
    assert (
        snakemake_config(ROOT / "config/original.yaml")["models"]["mobilenetv2_pretrained_keras"][
            "fine_tune"
        ]
        is None
    )  # Snakemake's own merge agrees


def test_jax_backend_is_not_offered(tmp_path):
    """JAX is not in requirements.txt and no test trains under it: the config refuses it."""
    overlay = tmp_path / "jax.yaml"
    overlay.write_text("models:\n  alexnet_scratch_keras:\n    backend: jax\n")
    with pytest.raises(jsonschema.ValidationError, match="'jax' is not one of"):
        load_study_config([overlay])
