"""What a result is made from, written so that equal studies give equal values.

Snakemake compares a job's params with those recorded for its outputs by their
repr, so these values have their keys sorted at every level: key order in the
config files, a restated default or an overlay that changes nothing then change
nothing. Where files come from (URLs, paths) is left out: files are identified
by their checksums.
"""

EVALUATION = ("test_time_flip", "test_time_shift")  # how a trained model is scored
# which replicates run, whether, and how the trained model is scored: not how one trains
NOT_RECIPE = ("seeds", "enabled", *EVALUATION)


def sorted_keys(value):
    """`value` with every mapping's keys sorted, recursively (a canonical repr)."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [sorted_keys(item) for item in value]
    return value


def recipe(model):
    """One model's training recipe: its validated config entry less seeds, enabled and
    the test-time views."""
    return sorted_keys({key: value for key, value in model.items() if key not in NOT_RECIPE})


def evaluation_policy(model):
    """One model's test-time views (its validated config entry's, the study's by default)."""
    return {key: model[key] for key in EVALUATION}


def study(config):
    """The study a report describes: data settings (less the URL), enabled models, how
    they are scored, seeds."""
    return sorted_keys(
        {
            "data": {key: value for key, value in config["data"].items() if key != "url"},
            "models": {
                name: {**recipe(model), **evaluation_policy(model), "seeds": model["seeds"]}
                for name, model in config["models"].items()
                if model["enabled"]
            },
            "allow_unofficial_weights": config["weights"]["allow_unofficial"],
        }
    )
