"""Nested stratified training subsets: the learning curve's sizes.

Every class's training images are put in one order fixed by the seed; a subset of n
images per class is the first n of every class. So each smaller subset lies inside
the larger ones, whatever sizes a study lists, and every subset has exactly n images
of every class.
"""

import numpy as np

from cifar_compare.fileio import atomic_path, remove_stale_partials

SEED_OFFSET = 7919  # a stream apart from the validation hold-out's, which uses the seed itself


def class_orders(labels, seed):
    """Class -> that class's indices into `labels`, in the seed's fixed random order."""
    rng = np.random.default_rng([seed, SEED_OFFSET])
    return {int(c): rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)}


def nested_subset(labels, per_class, seed):
    """Sorted indices of the first `per_class` images of every class's fixed order."""
    orders = class_orders(labels, seed)
    short = {c: len(order) for c, order in orders.items() if len(order) < per_class}
    if short:
        c, count = min(short.items())
        raise ValueError(
            f"learning_curve.sizes: {per_class} training images per class asked, but class "
            f"{c} has only {count} (after the validation hold-out); lower the size or "
            "raise data.train_per_class / data.validation_fraction"
        )
    return np.sort(np.concatenate([order[:per_class] for order in orders.values()]))


def write_subset(source, destination, per_class, seed):
    """Copy the prepared file at `source` with its training split cut to `per_class`
    images of every class (validation and test splits unchanged); returns the count."""
    with np.load(source, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    keep = nested_subset(arrays["y_train"], per_class, seed)
    arrays["x_train"], arrays["y_train"] = arrays["x_train"][keep], arrays["y_train"][keep]
    remove_stale_partials(destination)
    with atomic_path(destination) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
    return len(keep)
