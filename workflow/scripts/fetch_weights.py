"""Fetch one pretrained weights file, verify its hash and record its provenance."""

from cifar_compare.fileio import write_json_atomic
from cifar_compare.logs import errors_logged, open_log
from cifar_compare.weights import fetch_weights

if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        provenance = fetch_weights(
            snakemake.wildcards.weights,
            snakemake.params.url,
            snakemake.output.weights,
            snakemake.params.allow_unofficial,
            snakemake.params.lock_file,
        )
        if not provenance["official"]:
            logger.warning(
                "%s is NOT the official file (sha256 %s)",
                provenance["source"],
                provenance["sha256"],
            )
        write_json_atomic(snakemake.output.provenance, provenance)
        logger.info("provenance: %s", provenance)
