"""The report's figures, each written as PNG (for the PDF) and SVG (for the web report).

Reads only metrics JSON and training histories; no training code is imported.
"""

import matplotlib
import numpy as np
import pandas as pd
import yaml
from matplotlib.figure import Figure  # not pyplot: no GUI backend, no global figures to close

from cifar_compare.fileio import atomic_path, read_json
from cifar_compare.report.data import model_results
from cifar_compare.report.stats import accuracy_interval, pooled_calibration
from cifar_compare.report.tables import per_class_accuracy

PANEL_INCHES = 3.2
# Names (models, classes) are drawn as written: a `$...$` in one is not mathtext, which
# would fail the plots job (or typeset something else) after every model has trained.
LITERAL_TEXT = {"text.parse_math": False, "text.usetex": False}


def histories_by_model(records, history_paths):
    """Model name -> its seeds' histories (the inputs list both in the same order)."""
    if len(records) != len(history_paths):
        raise ValueError(f"{len(records)} metrics files but {len(history_paths)} histories")
    grouped = {}
    for record, path in zip(records, history_paths, strict=True):
        grouped.setdefault(record["model"], []).append(pd.read_csv(path))
    return grouped


def band(ax, histories, column, label, scale):
    """Mean over seeds as a line, min-max over seeds as a shaded band."""
    frame = pd.concat([h[["epoch", column]] for h in histories]).groupby("epoch")[column]
    if frame.count().sum() == 0:
        return  # no validation split (data.validation_fraction 0)
    epochs = frame.mean().index
    (line,) = ax.plot(epochs, scale * frame.mean(), marker="o", ms=3, label=label)
    ax.fill_between(
        epochs, scale * frame.min(), scale * frame.max(), alpha=0.25, lw=0, color=line.get_color()
    )


def panels(results, width, height, rows=1, **options):
    """A figure of `rows` rows of one `width` x `height` inch panel per model: (fig, axes)."""
    fig = Figure(figsize=(width * len(results), height))
    return fig, fig.subplots(rows, len(results), squeeze=False, **options)


def learning_curves(results, histories):
    fig, axes = panels(results, PANEL_INCHES, 2 * PANEL_INCHES * 0.8, rows=2, sharex="col")
    for col, result in enumerate(results):
        runs = histories[result.name]
        loss, accuracy = axes[0, col], axes[1, col]
        for ax, metric, scale in ((loss, "loss", 1), (accuracy, "accuracy", 100)):
            band(ax, runs, f"train_{metric}", "train", scale)
            band(ax, runs, f"val_{metric}", "validation", scale)
            ax.ticklabel_format(axis="y", useOffset=False)
            ax.grid(alpha=0.3)
        plural = "s" if len(runs) > 1 else ""
        loss.set_title(f"{result.name}\n({len(runs)} seed{plural})", fontsize=9)
        loss.set_ylabel("cross-entropy loss")
        accuracy.set_ylabel("accuracy (%)")
        accuracy.set_xlabel("epoch")
        accuracy.set_xticks(sorted(runs[0]["epoch"]))
        loss.legend(fontsize=7)
    return fig


def confusion_matrices(results):
    fig, axes = panels(results, PANEL_INCHES * 1.3, PANEL_INCHES * 1.3)
    for ax, result in zip(axes[0], results, strict=True):
        counts = np.sum([r["confusion_matrix"] for r in result.records], axis=0)
        fraction = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        image = ax.imshow(100 * fraction, cmap="Blues", vmin=0, vmax=100)
        names = result.records[0]["class_names"]
        ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        ax.set_title(f"{result.name}\n(test images summed over seeds)", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046, label="share of true class (%)")
    return fig


def per_class_plot(results):
    names = results[0].records[0]["class_names"]
    fig = Figure(figsize=(9, 3.6))
    ax = fig.subplots()
    width = 0.8 / len(results)
    for i, result in enumerate(results):
        values = per_class_accuracy(result)
        positions = np.arange(len(names)) + (i - (len(results) - 1) / 2) * width
        ax.bar(positions, [100 * values[n] for n in names], width, label=result.name)
    ax.set_xticks(range(len(names)), names, rotation=30, fontsize=8)
    ax.set_xlabel("class")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=7, ncols=2)
    return fig


def accuracy_vs_cost(results):
    fig = Figure(figsize=(9, 3.6))
    by_time, by_size = fig.subplots(1, 2, sharey=True)
    for result in results:
        y, err = 100 * result.accuracy_mean, 100 * (result.accuracy_std or 0)
        for ax, x in ((by_time, result.train_seconds), (by_size, result.params_total / 1e6)):
            ax.errorbar(x, y, yerr=err, fmt="o", capsize=3, label=result.name)
    by_time.set_xlabel("mean training time per run (s)")
    by_size.set_xlabel("parameters (millions)")
    by_time.set_ylabel("test accuracy (%)")
    for ax in (by_time, by_size):
        ax.set_xlim(left=0)
        ax.grid(alpha=0.3)
    by_size.legend(fontsize=7)
    return fig


def accuracy_intervals(results, original):
    """Page 1's chart: each model's accuracy and 95 % interval, the original's range beside."""
    fig = Figure(figsize=(7.2, 0.42 * len(results) + 1.1))
    ax = fig.subplots()
    rows = np.arange(len(results))[::-1]
    intervals = [accuracy_interval(r) for r in results]
    entries = [original["models"].get(r.name) for r in results]  # the original's ranges
    for row, interval, entry in zip(rows, intervals, entries, strict=True):
        if entry is not None:
            low, high = entry["accuracy_low"], entry["accuracy_high"]
            ax.barh(row - 0.18, max(high - low, 0.4), left=low, height=0.22, color="0.75")
        x, right = 100 * interval.estimate, 100 * interval.high
        err = [[x - 100 * interval.low], [right - x]]
        ax.errorbar(x, row + 0.12, xerr=err, fmt="o", capsize=4, color="C0", ms=5)
        ax.annotate(
            f"{x:.1f}", (right, row + 0.12), xytext=(4, -3), textcoords="offset points", fontsize=7
        )
    # The axis starts 10 points below the lowest value shown, in tens.
    lows = [100 * i.low for i in intervals] + [e["accuracy_low"] for e in entries if e is not None]
    ax.set_yticks(rows, [r.name for r in results], fontsize=8)
    ax.set_xlabel("test accuracy (%): this run (dot, 95 % interval); original study (grey)")
    ax.set_xlim(max(0, 10 * (int(min(lows)) // 10 - 1)), 100)
    ax.set_ylim(-0.6, len(results) - 0.4)
    ax.grid(axis="x", alpha=0.3)
    return fig


def reliability(results):
    fig, axes = panels(results, PANEL_INCHES * 0.9, PANEL_INCHES * 0.95, sharey=True)
    for ax, result in zip(axes[0], results, strict=True):
        pooled = pooled_calibration(result)
        ax.plot([0, 100], [0, 100], ls="--", color="0.5", lw=1)
        title = "(no calibration recorded)"
        if pooled is not None:
            bins = len(pooled["count"])
            filled = np.asarray(pooled["count"]) > 0
            left = np.linspace(0, 100, bins + 1)[:-1][filled]
            height = 100 * np.asarray(pooled["accuracy"])[filled]
            ax.bar(left, height, width=100 / bins, align="edge", edgecolor="white", alpha=0.8)
            title = f"ECE {100 * pooled['ece']:.2f} %"
        ax.set_title(f"{result.name}\n{title}", fontsize=9)
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_xlabel("top softmax probability (%)")
    axes[0, 0].set_ylabel("accuracy in bin (%)")
    return fig


def figures(results, histories, original):
    return {
        "accuracy_intervals": accuracy_intervals(results, original),
        "reliability": reliability(results),
        "learning_curves": learning_curves(results, histories),
        "confusion_matrices": confusion_matrices(results),
        "per_class_accuracy": per_class_plot(results),
        "accuracy_vs_cost": accuracy_vs_cost(results),
    }


def write_plots(inputs, params, outputs):
    """Every figure of the run, as `outputs.<name>_png` and `outputs.<name>_svg`;
    yields (figure name, number of models) as each is written."""
    records = [read_json(p) for p in inputs.metrics]
    results = model_results(records, params.models)
    histories = histories_by_model(records, inputs.histories)
    with open(inputs.original, encoding="utf-8") as handle:
        original = yaml.safe_load(handle)
    with matplotlib.rc_context(LITERAL_TEXT):  # built and drawn with it
        for name, fig in figures(results, histories, original).items():
            save_figure(fig, getattr(outputs, f"{name}_png"), getattr(outputs, f"{name}_svg"))
            yield name, len(results)


def save_figure(fig, png, svg):
    """`fig` laid out and written as PNG and SVG (no date in the SVG: same figure, same file)."""
    fig.tight_layout()
    for path, image_format, metadata in ((png, "png", None), (svg, "svg", {"Date": None})):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=image_format, dpi=150, bbox_inches="tight", metadata=metadata)
