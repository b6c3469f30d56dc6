"""fp32 against bf16 for each model that `make bench` ran in both precisions, and what
`precision: auto` picks on this machine (docs/usage.md: Precision).

    .venv/bin/python bench/precision_table.py bench/out/precision-fp32 bench/out/precision-bf16
"""

import argparse
import json
from pathlib import Path


def rows_by_model(folder):
    """model -> its pipeline row, over every benchmark JSON file in `folder`."""
    rows = {}
    for path in sorted(Path(folder).glob("*.json")):
        for row in json.loads(path.read_text())["rows"]:
            if row.get("approach") == "pipeline" and "error" not in row:
                rows[row["model"]] = row
    return rows


def comparison(fp32_rows, bf16_rows):
    """One line per model in both folders: img/s in each, their ratio, auto's pick."""
    for model in [m for m in fp32_rows if m in bf16_rows]:
        fp32 = fp32_rows[model]["train_images_per_second"]
        bf16 = bf16_rows[model]["train_images_per_second"]
        probe = fp32_rows[model].get("auto_bf16_probe_speedup")
        pick = fp32_rows[model].get("auto_precision", "?")
        why = f"probe {probe:.2f}x" if probe else fp32_rows[model].get("auto_precision_reason", "")
        yield model, fp32, bf16, bf16 / fp32, f"{pick} ({why})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fp32_folder")
    parser.add_argument("bf16_folder")
    args = parser.parse_args()
    lines = list(comparison(rows_by_model(args.fp32_folder), rows_by_model(args.bf16_folder)))
    if not lines:
        raise SystemExit(f"no model ran in both {args.fp32_folder} and {args.bf16_folder}")
    print(f"{'model':>30}  {'fp32 img/s':>10}  {'bf16 img/s':>10}  {'bf16/fp32':>9}  auto picks")
    for model, fp32, bf16, ratio, pick in lines:
        print(f"{model:>30}  {fp32:>10.1f}  {bf16:>10.1f}  {ratio:>9.2f}  {pick}")


if __name__ == "__main__":
    main()
