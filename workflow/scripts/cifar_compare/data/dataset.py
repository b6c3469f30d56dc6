"""The framework-neutral prepared data file: uint8 NHWC images, int64 labels, class names.

Both frameworks read only this file (an uncompressed .npz, no pickles inside).
"""

from dataclasses import dataclass

import numpy as np

from cifar_compare.fileio import atomic_path, remove_stale_partials

SPLITS = ("train", "val", "test")


@dataclass
class Split:
    images: np.ndarray  # (N, H, W, 3) uint8
    labels: np.ndarray  # (N,) int64

    def __len__(self):
        return len(self.labels)


def stratified_pick(labels, per_class, rng, key="data.train_per_class"):
    """Indices of `per_class` random examples of every class, in sorted order."""
    picked = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        if per_class > len(members):
            raise ValueError(
                f"{key}: asked for {per_class} examples of class {cls}, only {len(members)} exist"
            )
        picked.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(picked))


def stratified_holdout(labels, fraction, rng):
    """Split indices into (kept, held_out), holding out `fraction` of every class: none
    at fraction 0 (all images train); otherwise both splits must keep at least one."""
    held = []
    for cls in np.unique(labels):
        members = np.flatnonzero(labels == cls)
        count = int(round(fraction * len(members)))
        if fraction > 0 and not 1 <= count < len(members):
            raise ValueError(
                f"data.validation_fraction {fraction} of the {len(members)} training images "
                f"of class {cls} holds out {count}: the validation or training split would "
                "be empty; raise data.train_per_class or change data.validation_fraction"
            )
        held.append(rng.choice(members, size=count, replace=False))
    held = np.sort(np.concatenate(held))
    kept = np.setdiff1d(np.arange(len(labels)), held)
    return kept, held


def require_all_classes(labels, num_classes, what):
    if missing := np.setdiff1d(np.arange(num_classes), labels).tolist():
        raise ValueError(f"{what}: classes {missing} have no examples")


def make_splits(x_train, y_train, x_test, y_test, settings, num_classes):
    """Apply optional subsetting and the validation hold-out; return {split: Split}."""
    rng = np.random.default_rng(settings["split_seed"])
    require_all_classes(y_train, num_classes, "training set")
    require_all_classes(y_test, num_classes, "test set")
    if settings.get("train_per_class"):
        keep = stratified_pick(y_train, settings["train_per_class"], rng)
        x_train, y_train = x_train[keep], y_train[keep]
    if settings.get("test_per_class"):
        keep = stratified_pick(y_test, settings["test_per_class"], rng, "data.test_per_class")
        x_test, y_test = x_test[keep], y_test[keep]
    kept, held = stratified_holdout(y_train, settings["validation_fraction"], rng)
    return {
        "train": Split(x_train[kept], y_train[kept]),
        "val": Split(x_train[held], y_train[held]),
        "test": Split(x_test, y_test),
    }


def save_prepared(path, splits, class_names, archive_md5=None):
    """Write the splits; `archive_md5` (the verified data.md5) is kept as provenance."""
    arrays = {"class_names": np.asarray(class_names, dtype=np.str_)}
    if archive_md5 is not None:
        arrays["archive_md5"] = np.asarray([archive_md5], dtype=np.str_)
    for name, split in splits.items():
        arrays |= {f"x_{name}": split.images, f"y_{name}": split.labels}
    remove_stale_partials(path)  # left by a prepare job that was killed
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)


def load_prepared(path, splits=SPLITS):
    """Return ({split: Split}, class_names) for the requested splits."""
    with np.load(path, allow_pickle=False) as data:
        loaded = {name: Split(data[f"x_{name}"], data[f"y_{name}"]) for name in splits}
        class_names = [str(name) for name in data["class_names"]]
    return loaded, class_names
