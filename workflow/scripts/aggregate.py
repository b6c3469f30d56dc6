"""Summarise every model's metrics across seeds into one CSV and Markdown table."""

import pandas as pd
from cifar_compare.fileio import atomic_path, read_json, write_text_atomic


def metrics_row(metrics):
    training = metrics["training"]
    weights = metrics["weights"]
    return {
        "model": metrics["model"],
        "framework": metrics["framework"],
        "architecture": metrics["architecture"],
        "pretrained": metrics["model_config"]["pretrained"],
        "input_size": metrics["model_config"]["input_size"],
        "precision": training.get("precision", "fp32"),  # fp32 before it was recorded
        "seed": metrics["seed"],
        "test_accuracy": metrics["test_accuracy"],
        "test_loss": metrics["test_loss"],
        "params_total": metrics["parameters"]["total"],
        "params_trainable": metrics["parameters"]["trainable"],
        "train_seconds": training["wall_seconds"],
        "train_images_per_second": training["images_per_second"],
        "inference_images_per_second": metrics["inference_images_per_second"],
        "peak_rss_mb": training["peak_rss_mb"],
        "peak_device_memory_mb": training["peak_device_memory_mb"],
        "weights_official": None if weights is None else weights["official"],
    }


def summarise(rows):
    """One row per model: mean and standard deviation over seeds of the measured columns."""
    frame = pd.DataFrame(rows)
    keys = ["model", "framework", "architecture", "pretrained", "input_size", "precision"]
    grouped = frame.groupby(keys, sort=False, dropna=False)
    summary = grouped.agg(
        seeds=("seed", "count"),
        test_accuracy_mean=("test_accuracy", "mean"),
        test_accuracy_std=("test_accuracy", "std"),
        test_loss_mean=("test_loss", "mean"),
        params_total=("params_total", "first"),
        params_trainable=("params_trainable", "first"),
        train_seconds_mean=("train_seconds", "mean"),
        train_images_per_second=("train_images_per_second", "mean"),
        inference_images_per_second=("inference_images_per_second", "mean"),
        peak_rss_mb=("peak_rss_mb", "max"),
        peak_device_memory_mb=("peak_device_memory_mb", "max"),
        weights_official=("weights_official", "first"),
    )
    return summary.reset_index()


def accuracy_cell(mean, std):
    if pd.isna(std):
        return f"{100 * mean:.2f}"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def to_markdown(summary):
    header = [
        "model",
        "framework",
        "input",
        "precision",
        "seeds",
        "test accuracy (%)",
        "test loss",
        "params",
        "train time (s)",
        "train img/s",
        "peak RSS (MB)",
        "weights",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary.itertuples():
        weights = {None: "scratch", True: "official", False: "UNOFFICIAL"}[
            None if pd.isna(row.weights_official) else bool(row.weights_official)
        ]
        cells = [
            row.model,
            row.framework,
            f"{row.input_size}px",
            row.precision,
            str(row.seeds),
            accuracy_cell(row.test_accuracy_mean, row.test_accuracy_std),
            f"{row.test_loss_mean:.3f}",
            f"{row.params_total:,}",
            f"{row.train_seconds_mean:.1f}",
            f"{row.train_images_per_second:.0f}",
            f"{row.peak_rss_mb:.0f}",
            weights,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from cifar_compare.runtime.logs import errors_logged, open_log

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        summary = summarise([metrics_row(read_json(p)) for p in snakemake.input.metrics])
        with atomic_path(snakemake.output.csv) as tmp:
            summary.to_csv(tmp, index=False)
        write_text_atomic(snakemake.output.markdown, to_markdown(summary))
        logger.info("summarised %d models", len(summary))
