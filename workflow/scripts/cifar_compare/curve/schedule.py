"""How many epochs a model trains for at each size of a learning curve.

fixed_steps: the optimiser steps the recipe takes at `reference_per_class` images per
class, by more epochs on a smaller subset: never fewer than the recipe's own epochs,
never more than `max_epochs` (then the run records fewer steps than the reference).
fixed_epochs: the recipe's epochs at every size, so steps shrink with the subset.
Each sized recipe carries a `curve` block saying which, recorded in its checkpoint
and metrics.
"""

import math

from cifar_compare.data.archive import NUM_CLASSES
from cifar_compare.epochs import steps_per_epoch


def steps_at(per_class, batch_size, epochs):
    return epochs * steps_per_epoch(NUM_CLASSES * per_class, batch_size)


def epochs_at(per_class, recipe, schedule):
    """Epochs of `recipe` at `per_class` images per class under the schedule policy."""
    epochs = recipe["epochs"]
    if schedule["policy"] == "fixed_epochs":
        return epochs
    target = steps_at(schedule["reference_per_class"], recipe["batch_size"], epochs)
    per_epoch = steps_per_epoch(NUM_CLASSES * per_class, recipe["batch_size"])
    return min(schedule["max_epochs"], max(epochs, math.ceil(target / per_epoch)))


def fine_tune_at(fine_tune, epochs, original_epochs):
    """Phase 2 scaled with the run: the same share of its epochs. With at least the
    recipe's epochs, a recipe with a phase 1 keeps one: (E - f) * n / E >= 1 > 1/2."""
    if not fine_tune:
        return fine_tune
    return {**fine_tune, "epochs": round(fine_tune["epochs"] * epochs / original_epochs)}


def sized_recipe(recipe, per_class, schedule):
    """`recipe` as trained at `per_class` images per class, with its `curve` record."""
    epochs = epochs_at(per_class, recipe, schedule)
    reference = schedule["reference_per_class"]
    record = {
        "train_per_class": per_class,
        "policy": schedule["policy"],
        "epochs": epochs,
        "reference_per_class": reference,
        "reference_epochs": recipe["epochs"],
        "optimizer_steps": steps_at(per_class, recipe["batch_size"], epochs),
        "reference_optimizer_steps": steps_at(reference, recipe["batch_size"], recipe["epochs"]),
    }
    sized = {**recipe, "epochs": epochs, "curve": record}
    if "fine_tune" in recipe:
        sized["fine_tune"] = fine_tune_at(recipe["fine_tune"], epochs, recipe["epochs"])
    return sized
