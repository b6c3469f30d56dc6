"""The report's learning-curve section from hand-written tables: its page-1 sentence,
its threshold text and the sizes that took fewer optimiser steps."""

from cifar_compare.curve.analysis import TABLE_COLUMNS, Gap, write_gaps, write_rows
from cifar_compare.report.curve import curve_section

P, S = "alexnet_pretrained_pytorch", "alexnet_scratch_pytorch"


def row(model, size, epochs, steps):
    values = {"model": model, "framework": "pytorch", "pretrained": model == P, "size": size}
    values |= {"seed": 0, "accuracy": 0.5, "loss": 1.0, "ece": 0.1, "train_seconds": 1.0}
    return {
        key: {**values, "epochs": epochs, "optimizer_steps": steps}[key] for key in TABLE_COLUMNS
    }


def section(tmp_path, gaps, rows):
    write_gaps(tmp_path / "gaps.csv", gaps)
    write_rows(tmp_path / "table.csv", rows)
    return curve_section(tmp_path / "table.csv", tmp_path / "gaps.csv")


def test_page_one_gives_the_gap_at_the_smallest_and_largest_size(tmp_path):
    gaps = [Gap(P, S, "pytorch", n, g, g - 0.02, g + 0.02, 4.0, True, 0.01)
            for n, g in ((50, 0.123), (500, 0.05), (5000, 0.004))]  # fmt: skip
    rows = [row(S, 50, 100, 300), row(S, 500, 10, 390), row(S, 5000, 10, 3900)]
    found = section(tmp_path, gaps, rows)
    assert found["sentences"] == [
        f"Pretraining ({P} over {S}) adds +12.30 points (95 % +10.30 to +14.30) at 50 images "
        "per class and +0.40 points (95 % \u22121.60 to +2.40) at 5,000 images per class."
    ]
    assert found["pairs"][0]["threshold"] == "below 1 point from 5,000 images per class on"
    assert found["sizes"] == [50, 500, 5000]
    # 3,900 / 390 = 10x fewer at 500; 3,900 / 300 = 13x at 50.
    assert found["fewer_updates"] == [
        f"{S} at 50 images per class took 13× fewer optimiser steps (300) than at 5,000 (3,900)",
        f"{S} at 500 images per class took 10× fewer optimiser steps (390) than at 5,000 (3,900)",
    ]


def test_a_size_with_a_third_fewer_steps_is_not_named_and_no_pair_says_so(tmp_path):
    rows = [row(S, 100, 34, 238), row(S, 300, 11, 253), row(S, 1000, 3, 234)]
    found = section(tmp_path, [], rows)
    assert found["fewer_updates"] == [] and found["pairs"] == []
    assert found["sentences"] == [
        "Every model also trained at 3 training-set sizes; no pretrained model has a scratch "
        "model of its framework in this run, so there is no pretraining gap."
    ]
    assert curve_section(None, None) is None
