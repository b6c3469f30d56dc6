"""The learning curve's numbers from hand-made metrics: the tidy table, each size's
accuracies, the pretrained-minus-scratch gaps and the size where the gap closes, each
against values worked out by hand from the right-answer masks."""

import csv
import math
from types import SimpleNamespace

import pytest
from cifar_compare.curve.analysis import (
    TABLE_COLUMNS,
    Gap,
    curve_points,
    pretraining_gaps,
    read_gaps,
    results_by_size,
    threshold_sizes,
    tidy_rows,
    write_gaps,
)
from cifar_compare.data.download import OFFICIAL_CIFAR10_MD5
from cifar_compare.fileio import write_json_atomic
from learning_curve import summarise
from report_fixtures import correct_mask, metrics_record

SCRATCH, PRETRAINED = "alexnet_scratch_pytorch", "alexnet_pretrained_pytorch"
# (model, size) -> right answers of seeds 0 and 1 among the 1,000 test images (the first n).
RIGHT = {
    (SCRATCH, 10): (400, 420),
    (PRETRAINED, 10): (700, 720),
    (SCRATCH, 100): (810, 820),  # ahead of the pretrained model at this size
    (PRETRAINED, 100): (805, 815),
}
MODELS = {SCRATCH: [0, 1], PRETRAINED: [0, 1]}


def curve_block(size, epochs=10, steps=1000):
    return {
        "train_per_class": size, "policy": "fixed_steps", "epochs": epochs,
        "reference_per_class": 100, "reference_epochs": 10, "optimizer_steps": steps,
        "reference_optimizer_steps": 1000,
    }  # fmt: skip


def record(model, size, seed):
    right = RIGHT[model, size][seed]
    mask = correct_mask([(0, right)])
    made = metrics_record(model, seed, mask, OFFICIAL_CIFAR10_MD5, precision="fp32")
    made["model_config"]["curve"] = curve_block(size, epochs=size // 10 + 9, steps=7 * size)
    return made


@pytest.fixture
def records():
    return [record(m, size, seed) for (m, size) in RIGHT for seed in (0, 1)]


def test_the_tidy_table_has_one_row_per_run_with_its_recorded_values(records):
    rows = tidy_rows(records)
    assert len(rows) == 8 and list(rows[0]) == list(TABLE_COLUMNS)
    # Sorted by model name, size, seed: alexnet_pretrained_pytorch first.
    assert [(r["model"], r["size"], r["seed"]) for r in rows[:3]] == [
        (PRETRAINED, 10, 0), (PRETRAINED, 10, 1), (PRETRAINED, 100, 0),
    ]  # fmt: skip
    scratch_10_0 = next(r for r in rows if (r["model"], r["size"], r["seed"]) == (SCRATCH, 10, 0))
    # 400 of 1,000 right; the fixture's loss is 1 - accuracy; right answers at confidence
    # 0.9, wrong at 0.6: ECE = 0.4 x |1 - 0.9| + 0.6 x |0 - 0.6| = 0.40.
    assert scratch_10_0["accuracy"] == pytest.approx(0.4)
    assert scratch_10_0["loss"] == pytest.approx(0.6)
    assert scratch_10_0["ece"] == pytest.approx(0.40)
    assert scratch_10_0["framework"] == "pytorch" and scratch_10_0["pretrained"] is False
    assert (scratch_10_0["epochs"], scratch_10_0["optimizer_steps"]) == (10, 70)
    assert scratch_10_0["train_seconds"] == 100.0
    # The curve block's epochs (100 // 10 + 9) and steps (7 x 100), not model_config's 10.
    pretrained_100 = rows[2]
    assert (pretrained_100["epochs"], pretrained_100["optimizer_steps"]) == (19, 700)


def test_each_size_has_each_models_mean_over_its_seeds(records):
    by_size = results_by_size(records[::-1], MODELS)
    assert list(by_size) == [10, 100]  # ascending, whatever the records' order
    points = {(p.model, p.size): p for p in curve_points(by_size)}
    expected = {(SCRATCH, 10): 0.41, (PRETRAINED, 10): 0.71, (SCRATCH, 100): 0.815,
                (PRETRAINED, 100): 0.81}  # fmt: skip
    for key, mean in expected.items():
        interval = points[key].interval
        assert interval.estimate == pytest.approx(mean)
        assert interval.low < mean < interval.high and math.isfinite(interval.df)
        assert points[key].seeds == (0, 1)


def test_the_gap_is_pretrained_minus_scratch_at_each_size(records):
    gaps = pretraining_gaps(results_by_size(records, MODELS))
    assert [(g.pretrained, g.scratch, g.size) for g in gaps] == [
        (PRETRAINED, SCRATCH, 10), (PRETRAINED, SCRATCH, 100),
    ]  # fmt: skip
    assert gaps[0].estimate == pytest.approx(0.71 - 0.41)
    assert gaps[1].estimate == pytest.approx(0.81 - 0.815)  # the study's 'best' is reversed
    # Seed terms alone: var(0.40, 0.42) / 2 = 0.0001 per model; the interval is wider.
    assert gaps[0].high - gaps[0].estimate > 1.96 * math.sqrt(0.0002)
    assert all(g.over_runs and g.framework == "pytorch" for g in gaps)
    assert gaps[0].p_value < 0.05 < gaps[1].p_value
    assert threshold_sizes(gaps) == {(PRETRAINED, SCRATCH): 100}


def gap(size, points, pair=("p", "s")):
    return Gap(*pair, "pytorch", size, points / 100, 0.0, 0.0, 3.0, True, 0.5)


@pytest.mark.parametrize(
    ("points_by_size", "threshold"),
    [
        ({50: 0.5, 500: 0.2, 5000: 0.1}, 50),  # below from the smallest size on
        ({50: 9.0, 500: 4.0, 5000: 0.9}, 5000),  # only at the largest
        ({50: 9.0, 500: 0.5, 5000: 2.0}, None),  # dips below, then rises: not reached
        ({50: 9.0, 500: 4.0, 5000: 1.0}, None),  # exactly 1 point is not below it
        ({50: 9.0, 500: -3.0, 5000: 0.0}, 500),  # pretraining behind counts as below
    ],
)
def test_the_threshold_is_where_the_gap_stays_below_one_point(points_by_size, threshold):
    gaps = [gap(size, points) for size, points in reversed(points_by_size.items())]
    other = [gap(50, 0.0, ("q", "s"))]  # another pair, its own threshold
    assert threshold_sizes(gaps + other) == {("p", "s"): threshold, ("q", "s"): 50}


def test_a_record_without_a_curve_block_is_refused_naming_model_and_seed(records):
    del records[3]["model_config"]["curve"]
    with pytest.raises(ValueError, match=f"metrics of {PRETRAINED} seed 1 have no model_config"):
        tidy_rows(records)


def test_the_gaps_table_reads_back_as_written(records, tmp_path):
    one_seed = Gap("p", "s", "keras", 5, 0.01, -0.02, 0.04, math.inf, False, None)
    gaps = [*pretraining_gaps(results_by_size(records, MODELS)), one_seed]
    write_gaps(tmp_path / "gaps.csv", gaps)
    assert read_gaps(tmp_path / "gaps.csv") == gaps


def test_summarise_writes_both_tables_and_both_figures(records, tmp_path):
    paths = [tmp_path / f"{n}.json" for n in range(len(records))]
    for path, made in zip(paths, records, strict=True):
        write_json_atomic(path, made)
    outputs = SimpleNamespace(
        table=tmp_path / "table.csv",
        gaps=tmp_path / "gaps.csv",
        **{f"{name}_{kind}": tmp_path / f"{name}.{kind}" for name in ("curve", "gap")
           for kind in ("png", "svg")},
    )  # fmt: skip
    rows, gaps = summarise(paths, MODELS, outputs)
    with open(outputs.table, newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == len(records) and tuple(table[0]) == TABLE_COLUMNS
    assert float(table[-1]["accuracy"]) == pytest.approx(0.82)  # scratch, 100, seed 1
    assert [(g.pretrained, g.size) for g in gaps] == [(PRETRAINED, 10), (PRETRAINED, 100)]
    assert read_gaps(outputs.gaps) == gaps
    for name in ("curve_png", "curve_svg", "gap_png", "gap_svg"):
        assert getattr(outputs, name).stat().st_size > 1000, name


def test_a_metrics_file_with_an_incomplete_curve_block_is_refused_naming_it(records, tmp_path):
    del records[0]["model_config"]["curve"]["optimizer_steps"]
    path = tmp_path / "incomplete.json"
    write_json_atomic(path, records[0])
    with pytest.raises(ValueError, match=r"incomplete\.json.*'optimizer_steps' is a required"):
        summarise([path], MODELS, SimpleNamespace())
