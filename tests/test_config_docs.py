"""config/README.md is generated from the schema and the registries, and kept current."""

import yaml
from cifar_compare import config_docs
from cifar_compare.config import ROOT, SCHEMA
from cifar_compare.keras.architectures import REGISTRY as KERAS
from cifar_compare.pytorch.architectures import REGISTRY as PYTORCH
from cifar_compare.weights import OFFICIAL_WEIGHTS


def properties_without_description(schema, path=""):
    """Key paths of every property (outside the allOf conditionals, which only narrow
    keys declared elsewhere) that has no description."""
    missing = []
    for name, prop in schema.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        if "description" not in prop:
            missing.append(key)
        missing += properties_without_description(prop, key)
        extra = prop.get("additionalProperties")
        if isinstance(extra, dict):
            missing += properties_without_description(extra, f"{key}.<name>")
    for name, definition in schema.get("$defs", {}).items():
        missing += properties_without_description(definition, f"$defs.{name}")
    return missing


def test_every_schema_property_has_a_description():
    assert properties_without_description(yaml.safe_load(SCHEMA.read_text())) == []


def test_config_readme_is_what_make_config_docs_writes():
    """Fails when the schema or a registry changed and `make config-docs` was not run."""
    current = (ROOT / "config" / "README.md").read_text()
    assert current == config_docs.render(), "config/README.md is stale: run `make config-docs`"


def test_config_readme_names_every_architecture_and_weights_file():
    text = config_docs.render()
    for name in [*PYTORCH, *KERAS, *OFFICIAL_WEIGHTS]:
        assert f"`{name}`" in text
    for key in ("data.md5", "weights.sources.<name>.url", "models.<name>.optimizer.betas"):
        assert f"| `{key}` |" in text
