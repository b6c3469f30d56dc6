"""The study report (cifar_compare.report.render): Snakemake glue."""

from cifar_compare.report.render import render

if __name__ == "__main__":
    from cifar_compare.runtime.logs import errors_logged, open_log

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        context = render(snakemake.input, snakemake.params, snakemake.output)
        logger.info("report of %d models: %s", len(context["results"]), snakemake.output.pdf)
