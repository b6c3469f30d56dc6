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
