"""Download the CIFAR-10 python archive and verify its md5."""

from cifar_compare.download import check_tar_gz, fetch_verified
from cifar_compare.logs import errors_logged, open_log
from cifar_compare.report_provenance import write_download_provenance


def download_cifar(url, md5, destination, log):
    log.info("fetching %s", url)
    digest = fetch_verified(url, destination, "md5", md5, "data.url")
    try:
        check_tar_gz(destination)
    except Exception:
        destination.unlink()
        raise
    log.info("saved %s (md5 %s)", destination, digest)


if __name__ == "__main__":
    from pathlib import Path

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        download_cifar(
            snakemake.params.url,
            snakemake.params.md5,
            Path(snakemake.output.archive),
            logger,
        )
        write_download_provenance(
            snakemake.output.provenance, snakemake.params.url, snakemake.output.archive
        )
