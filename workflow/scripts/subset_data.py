"""Cut the prepared data's training split to one learning-curve size
(cifar_compare.curve.subsets); Snakemake glue."""

from cifar_compare.curve.subsets import write_subset
from cifar_compare.runtime.logs import errors_logged, open_log

if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        per_class = int(snakemake.wildcards.size)
        count = write_subset(
            snakemake.input.prepared, snakemake.output.prepared, per_class, snakemake.params.seed
        )
        logger.info("training split: %d images, %d per class", count, per_class)
