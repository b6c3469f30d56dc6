"""The report's figures (cifar_compare.report.plots): Snakemake glue."""

from cifar_compare.report.plots import write_plots

if __name__ == "__main__":
    from cifar_compare.runtime.logs import errors_logged, open_log

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        for name, models in write_plots(snakemake.input, snakemake.params, snakemake.output):
            logger.info("plotted %s for %d models", name, models)
