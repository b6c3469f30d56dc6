"""The per-epoch history CSV both frameworks write, in the same columns."""

import csv

from cifar_compare.fileio import atomic_path


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
