"""The benchmark's outputs: JSON and CSV files and readable tables."""

import csv
import json
from pathlib import Path

COLUMNS = (  # header, width, row key, format
    ("model", 30, "model", "{}"),
    ("approach", 8, "approach", "{}"),
    ("input", 5, "input_size", "{}"),
    ("batch", 5, "batch_size", "{}"),
    ("prec", 4, "compute_precision", "{}"),
    ("train img/s", 11, "train_images_per_second", "{:.1f}"),
    ("eval img/s", 10, "eval_images_per_second", "{:.1f}"),
    ("pipe ovh", 8, "data_pipeline_overhead", "{:+.0%}"),
    ("peak RSS MB", 11, "peak_rss_mb", "{:.0f}"),
    ("peak dev MB", 11, "peak_device_memory_mb", "{:.0f}"),
    ("1st step s", 10, "first_step_seconds", "{:.2f}"),
    ("of matmul", 9, "fraction_of_matmul", "{:.0%}"),  # at the model's own precision
    ("of fp32 mm", 10, "fraction_of_fp32_matmul", "{:.0%}"),
)


def write_outputs(rows, comparisons, out_dir, stem):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    document = {"rows": rows, "naive_comparisons": comparisons}
    (out_dir / f"{stem}.json").write_text(json.dumps(document, indent=2) + "\n")
    fields = sorted({key for row in rows for key in row})
    with open(out_dir / f"{stem}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _cell(row, key, fmt):
    value = row.get(key)
    return "-" if value is None else fmt.format(value)


def _with_workers(item):
    if item["rss_ratio_with_workers"] == item["rss_ratio"]:
        return ""
    return f" ({item['rss_ratio_with_workers']:.1f}x counting its DataLoader workers)"


def print_tables(rows, comparisons, reference):
    print("  ".join(f"{header:>{width}}" for header, width, _, _ in COLUMNS))
    for row in rows:
        if "error" in row:
            print(f"{row['model']:>30}  {row['approach']:>8}  error: {row['error']}")
            continue
        print("  ".join(f"{_cell(row, key, fmt):>{width}}" for _, width, key, fmt in COLUMNS))
    for row in rows:
        if row.get("projected_peak_rss_mb"):
            print(
                f"{row['model']} naive: {row['naive_images_resized']} images resized up front "
                f"peaked at {row['peak_rss_mb']:.0f} MB; all {row['train_images_loaded']} "
                f"would need about {row['projected_peak_rss_mb']:.0f} MB"
            )
    for item in comparisons:
        projected = " (naive projected to the full set)" * item["naive_rss_projected"]
        device = item["device_memory_ratio"]
        print(
            f"{item['model']} at {item['input_size']}px: {item['speedup']:.1f}x the naive "
            f"baseline's training img/s; {item['rss_ratio']:.1f}x less peak host RSS{projected}"
            + _with_workers(item)
            + ("" if device is None else f", {device:.1f}x less peak device memory")
        )
    projections = [
        row["projected_seconds_per_seed"] for row in rows if "projected_seconds_per_seed" in row
    ]
    if projections:
        print(
            f"projected time for one seed of every model above (all epochs + evaluation): "
            f"{sum(projections) / 60:.1f} min"
        )
    devices = sorted({row["device"] for row in rows if "device" in row})
    print(f"device: {', '.join(devices) or '?'}")
    print(
        f"matmul reference after the models: fp32 {reference['fp32'] / 1e9:.1f} GFLOP/s, "
        f"bf16 {reference['bf16'] / 1e9:.1f} GFLOP/s ('of matmul' at the precision the model "
        "trains in and 'of fp32 mm' use those timed in alternation with each model's steps)"
    )
