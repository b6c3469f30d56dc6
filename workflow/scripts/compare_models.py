"""Compare named pairs of models of a finished run with the report's statistics: each
model's per-seed accuracies, mean, sd and 95 % interval, and each pair's difference with
its interval and test (t over training runs with 2+ seeds each), Holm-adjusted over the
pairs given.

    .venv/bin/python workflow/scripts/compare_models.py results \\
        alexnet_scratch_pytorch:alexnet_bf16_scratch_pytorch
"""

import argparse
import sys
from pathlib import Path

from cifar_compare.metrics import read_metrics_file
from cifar_compare.report.data import recorded_results
from cifar_compare.report.pairs import pair_lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a run's results folder")
    parser.add_argument("pairs", nargs="+", metavar="FIRST:SECOND")
    args = parser.parse_args(argv)
    pairs = [tuple(pair.split(":", 1)) for pair in args.pairs]
    if any(len(pair) != 2 for pair in pairs):
        parser.error("each pair is FIRST:SECOND, two model names")
    paths = sorted((args.results / "metrics").glob("*/seed*.json"))
    if not paths:
        parser.error(f"no metrics files under {args.results / 'metrics'}")
    try:
        lines = pair_lines(recorded_results([read_metrics_file(p) for p in paths]), pairs)
    except ValueError as error:
        sys.exit(f"compare_models: {error}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
