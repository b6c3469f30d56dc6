import jsonschema
import yaml

# Frameworks whose train/evaluate rules exist in this workflow.
IMPLEMENTED_FRAMEWORKS = {"pytorch"}


CONFIG_SCHEMA = "../schemas/config.schema.yaml"


def check_config(config):
    """Validate against the schema with an error naming the key, then fill defaults."""
    schema = yaml.safe_load(open(workflow.source_path(CONFIG_SCHEMA)))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        key = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise WorkflowError(f"invalid configuration, key {key}: {error.message}")
    validate(config, workflow.source_path(CONFIG_SCHEMA), set_default=True)
    for name, model in enabled_models().items():
        if model["framework"] not in IMPLEMENTED_FRAMEWORKS:
            raise WorkflowError(
                f"config key models.{name}.framework: {model['framework']!r} has no "
                "training rules in this workflow yet; set "
                f"models.{name}.enabled: false"
            )


def enabled_models():
    return {name: m for name, m in config["models"].items() if m["enabled"]}


def models_of(framework):
    """Regex alternation of the enabled models of one framework (a wildcard constraint)."""
    names = [n for n, m in enabled_models().items() if m["framework"] == framework]
    return "|".join(names) if names else "(?!)"


def model_config(wildcards):
    return config["models"][wildcards.model]


def train_inputs(wildcards):
    """Prepared data, plus the weights file and its provenance for pretrained models."""
    inputs = {"prepared": rules.prepare_data.output.prepared}
    weights = model_config(wildcards)["weights"]
    if weights:
        inputs["weights"] = expand(rules.fetch_weights.output.weights, weights=weights)[
            0
        ]
        inputs["provenance"] = expand(
            rules.fetch_weights.output.provenance, weights=weights
        )[0]
    return inputs


def weights_url(wildcards):
    """The configured source of a weights file; None means its official URL."""
    source = config["weights"]["sources"].get(wildcards.weights)
    return source["url"] if source else None


def metrics_files():
    """Every (model, seed) pair's metrics file: the targets of the whole study."""
    pattern = rules.evaluate_pytorch.output.metrics
    return [
        expand(pattern, model=name, seed=seed)[0]
        for name, model in enabled_models().items()
        for seed in model["seeds"]
    ]
