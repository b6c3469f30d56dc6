"""The summary tables (results/tables/summary.{csv,md}): one row per model, written from
the same ModelResults the report reads (cifar_compare.report.data)."""

import csv
import io

from cifar_compare.report import format as fmt
from cifar_compare.report.tables import precision_cell, probes

WEIGHTS = {None: "scratch", True: "official", False: "UNOFFICIAL"}
MARKDOWN_HEADER = (
    "model | framework | input | precision | seeds | test accuracy (%) | test loss | params"
    " | train time (s) | train img/s | peak RSS (MB) | weights"
).split(" | ")


def official(result):
    """True/False for official/unofficial weights; None from scratch."""
    return None if result.weights is None else bool(result.weights["official"])


def mean_or_none(values):
    return sum(values) / len(values) if values else None


def csv_row(result):
    """Mean over seeds (peak for memory) of the measured columns; std None with one seed."""
    return {
        "model": result.name,
        "framework": result.framework,
        "architecture": result.architecture,
        "pretrained": result.pretrained,
        "input_size": result.input_size,
        "precision": result.precision,
        "seeds": len(result.seeds),
        "test_accuracy_mean": result.accuracy_mean,
        "test_accuracy_std": result.accuracy_std,
        "test_loss_mean": result.loss_mean,
        "params_total": result.params_total,
        "params_trainable": result.params_trainable,
        "train_seconds_mean": result.train_seconds,
        "train_images_per_second": result.train_images_per_second,
        "inference_images_per_second": result.inference_images_per_second,
        "peak_rss_mb": result.peak_rss_mb,
        "peak_device_memory_mb": result.peak_device_mb,
        "bf16_probe_speedup": mean_or_none([p["bf16_speedup"] for p in probes(result)]),
        "weights_official": official(result),
    }


def to_csv(results):
    """The table as CSV text; an unknown value (a spread of one seed) is an empty cell."""
    rows = [csv_row(r) for r in results]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def markdown_cells(result):
    return (
        result.name,
        result.framework,
        f"{result.input_size}px",
        precision_cell(result),
        str(len(result.seeds)),
        fmt.accuracy_text(result.accuracy_mean, result.accuracy_std),
        f"{result.loss_mean:.3f}",
        f"{result.params_total:,}",
        f"{result.train_seconds:.1f}",
        f"{result.train_images_per_second:.0f}",
        f"{result.peak_rss_mb:.0f}",
        WEIGHTS[official(result)],
    )


def to_markdown(results):
    rows = [MARKDOWN_HEADER, *map(markdown_cells, results)]
    lines = ["| " + " | ".join(cells) + " |" for cells in rows]
    lines.insert(1, "|" + "---|" * len(MARKDOWN_HEADER))
    return "\n".join(lines) + "\n"
