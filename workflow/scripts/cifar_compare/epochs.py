"""The epoch loop both frameworks share (phases, per-epoch seeds, stop, resume state,
progress) and the per-epoch history it writes, in the same columns for both."""

import csv
import math
import time
from dataclasses import dataclass

from cifar_compare.fileio import atomic_path
from cifar_compare.runtime.interruption import Interrupted, StopRequest, TrainingDiverged
from cifar_compare.runtime.progress import EpochProgress
from cifar_compare.runtime.resources import peak_rss_mb

EPOCH_SEED_STRIDE = 1_000_003  # a prime, so (seed, epoch) pairs never collide


@dataclass(frozen=True)
class Phase:
    first_epoch: int
    last_epoch: int
    lr: float
    trainable_top: int | None  # base layers to unfreeze; None = base frozen


def steps_per_epoch(count, batch_size):
    """Steps per epoch when the last partial batch is dropped (at least one)."""
    return max(1, count // batch_size)


def epoch_seed(seed, epoch):
    """The RNG seed of one epoch: data order, augmentation and dropout restart from it,
    so a resumed run draws exactly what an uninterrupted one would have."""
    return seed * EPOCH_SEED_STRIDE + epoch


def fit(trainer, config, seed, log, resume=None, stop=None):
    """Train `trainer`'s phases; return the history rows. Each epoch's randomness
    (data order, augmentation, dropout) is seeded from (seed, epoch) and its state saved
    to `resume` (a ResumeDir), so a resumed run matches an uninterrupted one.

    The trainer (cifar_compare.pytorch.train.TorchTrainer, cifar_compare.keras.train.
    KerasTrainer) holds `train` and `val` as (images, labels), `phases` (Phase) and:
    begin(phase, steps) sets up the phase's optimizer; restore(resume, record,
    same_phase) loads a saved epoch; train_epoch(epoch, seed, stop, progress) returns
    (loss, accuracy), or None when `stop` ended it; validate(), lr(); save(resume,
    epoch) writes the epoch's state and returns the record's fields naming its files.
    """
    stop = stop or StopRequest()
    record = resume.load_record() if resume else None
    done, history = (record["epoch"], record["history"]) if record else (0, [])
    if record:
        log(f"resuming after epoch {done} from {resume.path}")
    epochs, batch_size = config["epochs"], config["batch_size"]
    steps = steps_per_epoch(len(trainer.train[1]), batch_size)
    validate = trainer.validate if len(trainer.val[1]) else None
    for phase in trainer.phases:
        if phase.last_epoch <= done:
            continue
        trainer.begin(phase, steps)
        if record:
            trainer.restore(resume, record, same_phase=done >= phase.first_epoch)
            record = None
        for epoch in range(max(done + 1, phase.first_epoch), phase.last_epoch + 1):
            start = time.perf_counter()
            progress = EpochProgress(log, epoch, epochs, steps, batch_size)
            result = trainer.train_epoch(epoch, epoch_seed(seed, epoch), stop, progress)
            if result is None:
                raise Interrupted(stop.signum, epoch)
            seconds = time.perf_counter() - start
            row = epoch_row(epoch, result, validate, seconds, steps * batch_size, trainer.lr())
            history.append(row)
            if resume:
                files = trainer.save(resume, epoch)
                resume.save_record({"epoch": epoch, **files, "history": history})
            # Only now: a job killed right after this line still resumes after this epoch.
            log(epoch_line(row, epochs))
    if record:  # every epoch was done before: the trained weights are all that is left
        trainer.restore(resume, record, same_phase=False)
    trainer.finish()
    return history


def epoch_row(epoch, train, validate, seconds, images, lr):
    """One epoch's history row. `train` is the epoch's (loss, accuracy), `validate()`
    the validation split's (None without one), `images` those trained on.
    A training loss that is not finite raises TrainingDiverged before validating."""
    if not math.isfinite(train[0]):
        raise TrainingDiverged(f"training loss became {train[0]} in epoch {epoch}")
    val_loss, val_accuracy = validate() if validate else (None, None)
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
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)


def epoch_line(row, epochs):
    """One epoch's line for the job log (no validation figures without a validation split)."""
    validation = ""
    if row["val_loss"] is not None:
        validation = f"val_loss={row['val_loss']:.4f} val_acc={row['val_accuracy']:.4f} "
    return (
        f"epoch {row['epoch']}/{epochs} train_loss={row['train_loss']:.4f} "
        f"train_acc={row['train_accuracy']:.4f} {validation}{row['epoch_seconds']:.1f}s "
        f"{row['images_per_second']:.0f} img/s"
    )
