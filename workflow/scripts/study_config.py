"""Load the study configuration outside Snakemake, exactly as the Snakefile does.

Overlays are merged on top of config/config.yaml and the result is validated
against the schema with its defaults filled in.
"""

from pathlib import Path

import yaml
from snakemake.utils import update_config, validate

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = ROOT / "config" / "config.yaml"
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def load_study_config(overlays=()):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for overlay in overlays:
        update_config(config, yaml.safe_load(Path(overlay).read_text()) or {})
    validate(config, str(SCHEMA), set_default=True)
    return config
