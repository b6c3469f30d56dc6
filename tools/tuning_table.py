"""The tuning log's table (docs/results/tuning-log.md): one row per candidate, from the
history.csv its training job wrote, judged on the validation split only.

    python tools/tuning_table.py RESULTS_DIR MODEL [MODEL ...]

Each row: the last epoch's validation accuracy (the budget is fixed: picking the best
epoch would be early stopping on the same split) with its 95 % binomial interval over
the validation images, the last epoch's training accuracy (augmented, dropout on) and
the training wall time.
"""

import argparse
import csv
import math
from pathlib import Path


def last_epoch(history_path):
    with open(history_path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or not rows[-1]["val_accuracy"]:
        raise SystemExit(f"{history_path}: no validation accuracy (trained without a split?)")
    return rows, rows[-1]


def interval(accuracy, count, z=1.96):
    """Normal-approximation 95 % interval half-width of an accuracy over `count` images."""
    return z * math.sqrt(accuracy * (1 - accuracy) / count)


def row(results, model, validation_images):
    rows, last = last_epoch(Path(results) / "models" / model / "seed0" / "history.csv")
    val, train = float(last["val_accuracy"]), float(last["train_accuracy"])
    seconds = sum(float(r["epoch_seconds"]) for r in rows)
    half = interval(val, validation_images)
    return (
        f"| `{model}` | {len(rows)} | **{100 * val:.2f} %** (± {100 * half:.2f}) "
        f"| {100 * train:.1f} % | {seconds:,.0f} s |"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("models", nargs="+")
    parser.add_argument("--validation-images", type=int, default=5000)
    args = parser.parse_args()
    print("| candidate | epochs | validation accuracy (95 %) | training accuracy | train time |")
    print("|---|---|---|---|---|")
    for model in args.models:
        print(row(args.results, model, args.validation_images))


if __name__ == "__main__":
    main()
