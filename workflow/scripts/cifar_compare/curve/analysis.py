"""The learning curve's numbers: a tidy table of every (model, size, seed), each model's
accuracy interval per size, and the pretrained-minus-scratch gap per size.

Each size is analysed as a study of its own with the report's statistics
(cifar_compare.report.stats): the intervals are 95 % per size (training runs and test
images), not adjusted over sizes.
"""

import csv
import io
from dataclasses import astuple, dataclass, fields

from cifar_compare.fileio import write_text_atomic
from cifar_compare.report.data import model_results
from cifar_compare.report.stats import Interval, accuracy_interval, compare, study_pairs

TABLE_COLUMNS = (
    "model", "framework", "pretrained", "size", "seed", "accuracy", "loss", "ece",
    "train_seconds", "epochs", "optimizer_steps",
)  # fmt: skip


def curve_record(record):
    """The record's `model_config.curve` block; refused when it has none."""
    curve = record["model_config"].get("curve")
    if not curve:
        raise ValueError(
            f"metrics of {record['model']} seed {record['seed']} have no model_config.curve: "
            "not a learning-curve run"
        )
    return curve


def curve_size(record):
    return curve_record(record)["train_per_class"]


def tidy_rows(records):
    """One row per (model, size, seed), in TABLE_COLUMNS, sorted by model, size, seed."""
    rows = []
    for record in records:
        curve = curve_record(record)
        rows.append(
            {
                "model": record["model"],
                "framework": record["framework"],
                "pretrained": bool(record["model_config"]["pretrained"]),
                "size": curve["train_per_class"],
                "seed": record["seed"],
                "accuracy": record["test_accuracy"],
                "loss": record["test_loss"],
                "ece": (record.get("calibration") or {}).get("ece"),
                "train_seconds": record["training"]["wall_seconds"],
                "epochs": curve["epochs"],
                "optimizer_steps": curve["optimizer_steps"],
            }
        )
    return sorted(rows, key=lambda row: (row["model"], row["size"], row["seed"]))


def results_by_size(records, configured):
    """Size -> the ModelResults of that size (configured: model name -> seeds), ascending."""
    grouped = {}
    for record in records:
        grouped.setdefault(curve_size(record), []).append(record)
    return {size: model_results(grouped[size], configured) for size in sorted(grouped)}


@dataclass(frozen=True)
class CurvePoint:
    model: str
    framework: str
    pretrained: bool
    size: int
    seeds: tuple
    interval: Interval


def curve_points(by_size):
    """Each model's accuracy interval at each size, models in configured order."""
    return [
        CurvePoint(r.name, r.framework, r.pretrained, size, r.seeds, accuracy_interval(r))
        for size, results in by_size.items()
        for r in results
    ]


@dataclass(frozen=True)
class Gap:
    pretrained: str
    scratch: str
    framework: str
    size: int
    estimate: float  # pretrained minus scratch, a fraction
    low: float
    high: float
    df: float
    over_runs: bool  # 2+ seeds each: the interval covers training runs too
    p_value: float | None


def pretraining_gaps(by_size):
    """Each pretrained model minus each scratch model of its framework, at every size
    both have results: the difference's interval and (unadjusted) p-value."""
    gaps = []
    for size, results in by_size.items():
        for kind, first, second in study_pairs(results):
            if kind != "pretrained":
                continue
            c = compare(first, second, kind)
            d = c.difference
            gaps.append(
                Gap(first.name, second.name, first.framework, size, d.estimate, d.low, d.high,
                    d.df, c.over_runs, c.p_value)
            )  # fmt: skip
    return gaps


def gaps_by_pair(gaps):
    """(pretrained, scratch) -> that pair's gaps, smallest size first."""
    pairs = {}
    for gap in sorted(gaps, key=lambda g: g.size):
        pairs.setdefault((gap.pretrained, gap.scratch), []).append(gap)
    return pairs


def threshold_sizes(gaps, points=1.0):
    """(pretrained, scratch) -> the smallest size from which the gap's estimate stays
    below `points` percentage points at every larger size run (a single dip below the
    line does not count: the next size's noise could undo it); None if never."""
    found = {}
    for pair, series in gaps_by_pair(gaps).items():
        found[pair] = None
        for gap in reversed(series):
            if gap.estimate >= points / 100:
                break
            found[pair] = gap.size
    return found


def csv_text(rows, columns):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def write_rows(path, rows, columns=TABLE_COLUMNS):
    write_text_atomic(path, csv_text(rows, columns))


GAP_COLUMNS = tuple(f.name for f in fields(Gap))


def write_gaps(path, gaps):
    write_rows(path, [dict(zip(GAP_COLUMNS, astuple(g), strict=True)) for g in gaps], GAP_COLUMNS)


def read_gaps(path):
    """The Gaps write_gaps wrote."""
    with open(path, newline="", encoding="utf-8") as handle:
        return [gap_from_row(row) for row in csv.DictReader(handle)]


def gap_from_row(row):
    numbers = {key: float(row[key]) for key in ("estimate", "low", "high", "df")}
    return Gap(
        pretrained=row["pretrained"],
        scratch=row["scratch"],
        framework=row["framework"],
        size=int(row["size"]),
        over_runs=row["over_runs"] == "True",
        p_value=float(row["p_value"]) if row["p_value"] else None,
        **numbers,
    )
