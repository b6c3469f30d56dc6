"""The per-epoch history CSV both frameworks write, in the same columns."""

import csv
import math

from cifar_compare.fileio import atomic_path
from cifar_compare.runtime.interruption import TrainingDiverged
from cifar_compare.runtime.resources import peak_rss_mb


def epoch_row(epoch, train, validate, seconds, images, lr):
    """One epoch's history row. `train` is the epoch's (loss, accuracy), `validate()`
    the validation split's ((None, None) without one), `images` those trained on.
    A training loss that is not finite raises TrainingDiverged before validating."""
    if not math.isfinite(train[0]):
        raise TrainingDiverged(f"training loss became {train[0]} in epoch {epoch}")
    val_loss, val_accuracy = validate()
    return {
        "epoch": epoch,
        "train_loss": train[0],
        "train_accuracy": train[1],
        "val_loss": val_loss,
        "val_accuracy": val_accuracy,
        "epoch_seconds": seconds,
        "images_per_second": images / seconds,
        "lr": lr,
        "peak_rss_mb": peak_rss_mb(),
    }


def write_history(path, history):
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(history[0]))
            writer.writeheader()
            writer.writerows(history)


def epoch_line(row, epochs):
    """One epoch's progress line for the job log (no validation figures without a
    validation split)."""
    validation = (
        ""
        if row["val_loss"] is None
        else f"val_loss={row['val_loss']:.4f} val_acc={row['val_accuracy']:.4f} "
    )
    return (
        f"epoch {row['epoch']}/{epochs} train_loss={row['train_loss']:.4f} "
        f"train_acc={row['train_accuracy']:.4f} {validation}{row['epoch_seconds']:.1f}s "
        f"{row['images_per_second']:.0f} img/s"
    )
