"""The report's learning-curve section: how the pretrained-minus-scratch gap changes
with the training-set size, from the tables the learning_curve rule wrote."""

import csv

from cifar_compare.curve.analysis import gaps_by_pair, read_gaps, threshold_sizes
from cifar_compare.report import format as fmt

THRESHOLD_POINTS = 1.0
FEWER_UPDATES = 1.5  # a size with this many times fewer steps than the largest is named


def gap_text(gap):
    """'+12.30 points (95 % +10.10 to +14.50) at 50 images per class'."""
    span = f"{fmt.signed_points(gap.low)} to {fmt.signed_points(gap.high)}"
    return (
        f"{fmt.signed_points(gap.estimate)} points (95 % {span}) at "
        f"{fmt.count(gap.size)} images per class"
    )


def pair_sentence(gaps):
    """One pair's gaps (sizes ascending): its smallest and largest size, or its one size."""
    first, last = gaps[0], gaps[-1]
    pair = f"Pretraining ({first.pretrained} over {first.scratch}) adds {gap_text(first)}"
    return pair + (f" and {gap_text(last)}." if last is not first else ".")


def threshold_text(size, points=THRESHOLD_POINTS):
    if size is None:
        return f"not below {points:g} point within the sizes run"
    return f"below {points:g} point from {fmt.count(size)} images per class on"


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def schedule_rows(rows):
    """Per model and size: its epochs and optimiser steps (the same for every seed)."""
    cells = {}
    for row in rows:
        cells[row["model"], int(row["size"])] = (int(row["epochs"]), int(row["optimizer_steps"]))
    return [
        {"model": model, "size": size, "epochs": epochs, "steps": steps}
        for (model, size), (epochs, steps) in sorted(cells.items())
    ]


def fewer_updates(schedule):
    """Sentences naming each size that took far fewer optimiser steps than the model's
    largest size, so a flat or rising curve is not read as the data's doing alone."""
    largest = {}
    for row in schedule:
        if row["size"] > largest.get(row["model"], {"size": -1})["size"]:
            largest[row["model"]] = row
    notes = []
    for row in schedule:
        top = largest[row["model"]]
        factor = top["steps"] / row["steps"]
        if factor >= FEWER_UPDATES:
            notes.append(
                f"{row['model']} at {fmt.count(row['size'])} images per class took "
                f"{fmt.ratio(factor)}× fewer optimiser steps ({fmt.count(row['steps'])}) than "
                f"at {fmt.count(top['size'])} ({fmt.count(top['steps'])})"
            )
    return notes


def curve_section(table_path, gaps_path):
    """The section's sentences and rows; None for a study without a curve."""
    if table_path is None:
        return None
    gaps = read_gaps(gaps_path)
    pairs = gaps_by_pair(gaps)
    thresholds = threshold_sizes(gaps, THRESHOLD_POINTS)
    schedule = schedule_rows(read_rows(table_path))
    sizes = sorted({row["size"] for row in schedule})
    no_pair = (
        f"Every model also trained at {len(sizes)} training-set sizes; no pretrained model "
        "has a scratch model of its framework in this run, so there is no pretraining gap."
    )
    return {
        "sizes": sizes,
        "sentences": [pair_sentence(found) for found in pairs.values()] or [no_pair],
        "pairs": [
            {
                "pretrained": pretrained,
                "scratch": scratch,
                "gaps": found,
                "threshold": threshold_text(thresholds[pretrained, scratch]),
            }
            for (pretrained, scratch), found in pairs.items()
        ],
        "schedule": schedule,
        "fewer_updates": fewer_updates(schedule),
    }
