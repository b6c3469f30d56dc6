"""Fetch one pretrained weights file, verify its hash and record its provenance."""

from cifar_compare.fileio import write_json_atomic
from cifar_compare.runtime.logs import errors_logged, open_log
from cifar_compare.weights import fetch_weights

if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        name = snakemake.wildcards.weights
        identity = snakemake.params.identity
        # Where the file comes from is no param (the hashes in `identity` are): a
        # copy elsewhere is the same file and must not rerun anything.
        source = snakemake.config["weights"]["sources"].get(name, {})
        provenance = fetch_weights(
            name,
            source.get("url"),
            snakemake.output.weights,
            identity["allow_unofficial"],
            identity["pinned_sha256"],
            identity["source_sha256"],
        )
        if not provenance["official"]:
            logger.warning("%(source)s is NOT the official file (sha256 %(sha256)s)", provenance)
        write_json_atomic(snakemake.output.provenance, provenance)
        logger.info("provenance: %s", provenance)
