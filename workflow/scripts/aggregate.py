"""Summarise every model's metrics across seeds into one CSV and Markdown table."""

from cifar_compare.fileio import read_json, write_text_atomic
from cifar_compare.report.data import recorded_results
from cifar_compare.report.summary import to_csv, to_markdown

if __name__ == "__main__":
    from cifar_compare.runtime.logs import errors_logged, open_log

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        results = recorded_results([read_json(p) for p in snakemake.input.metrics])
        write_text_atomic(snakemake.output.csv, to_csv(results))
        write_text_atomic(snakemake.output.markdown, to_markdown(results))
        logger.info("summarised %d models", len(results))
