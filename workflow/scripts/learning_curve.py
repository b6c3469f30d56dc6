"""The learning curve's tables and figures (cifar_compare.curve); Snakemake glue."""

from cifar_compare.curve.analysis import (
    curve_points,
    pretraining_gaps,
    results_by_size,
    tidy_rows,
    write_gaps,
    write_rows,
)
from cifar_compare.curve.figure import write_figures
from cifar_compare.metrics import read_metrics_file


def summarise(metric_paths, models, outputs):
    """Every (model, size, seed) metrics file in; the tidy table, the gaps table and both
    figures out. Returns (rows, gaps)."""
    records = [read_metrics_file(path) for path in metric_paths]
    by_size = results_by_size(records, models)
    rows, gaps = tidy_rows(records), pretraining_gaps(by_size)
    write_rows(outputs.table, rows)
    write_gaps(outputs.gaps, gaps)
    write_figures(curve_points(by_size), gaps, outputs)
    return rows, gaps


if __name__ == "__main__":
    from cifar_compare.runtime.logs import errors_logged, open_log

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        rows, gaps = summarise(snakemake.input.metrics, snakemake.params.models, snakemake.output)
        logger.info("learning curve: %d runs, %d pretrained-scratch gaps", len(rows), len(gaps))
