"""Run-to-run spread this project measured (workflow/report/measured_spread.yaml), for the
report to quote where a study trained a model once and so could not measure its own.

A measurement is quoted for a model only when the model's recipe (its model config less the
keys that do not change what is trained: seeds, precision, enabled, the test-time views,
which records from before they were evaluation settings carry) is the
measured one, so a user who changes a recipe does not get a spread measured for another.
"""

from cifar_compare.identity import EVALUATION

NOT_RECIPE = ("seeds", "precision", "enabled", *EVALUATION)
FIELDS = ("model", "recipe", "sd_points", "runs", "scale", "source")


def recipe(model_config):
    """What defines a model's training, as compared with a measurement's `recipe`. A key
    at null is left out: null is every such key's default (off, or the architecture's
    own), so a record from before the key existed is the same recipe as one with it at
    null, and a new option does not unmatch the measurements made without it."""
    return {
        key: value
        for key, value in model_config.items()
        if key not in NOT_RECIPE and value is not None
    }


def check_measurements(measurements, path):
    """The file's entries, each with every field; ValueError naming the file otherwise."""
    if not isinstance(measurements, list):
        raise ValueError(f"{path}: expected a list of measurements")
    for index, entry in enumerate(measurements):
        missing = [f for f in FIELDS if not isinstance(entry, dict) or f not in entry]
        if missing:
            raise ValueError(f"{path}: entry {index} lacks {', '.join(missing)}")
    return measurements


def measured_spread(result, measurements):
    """The measurement of `result`'s recipe, or None."""
    own = recipe(result.config)
    return next((m for m in measurements if recipe(m["recipe"]) == own), None)


def quoted_spreads(results, measurements):
    """(model name, measurement) for each model trained once whose recipe was measured."""
    quoted = ((r.name, measured_spread(r, measurements)) for r in results if len(r.seeds) < 2)
    return [(name, m) for name, m in quoted if m]
