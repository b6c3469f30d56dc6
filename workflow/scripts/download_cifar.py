"""Download the CIFAR-10 python archive and verify its md5."""

from cifar_compare.data.download import (
    CIFAR_MAX_BYTES,
    check_tar_gz,
    fetch_verified,
    write_download_provenance,
)
from cifar_compare.messages import redact_url
from cifar_compare.runtime.logs import errors_logged, open_log


def download_cifar(url, md5, destination, log):
    log.info("fetching %s", redact_url(url))
    digest = fetch_verified(
        url, destination, "md5", md5, "data.url", max_bytes=CIFAR_MAX_BYTES, checksum_key="data.md5"
    )
    try:
        check_tar_gz(destination)
    except Exception:
        destination.unlink()
        raise
    log.info("saved %s (md5 %s)", destination, digest)
    return digest


if __name__ == "__main__":
    from pathlib import Path

    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        # Where the archive comes from is no param: a copy with the same md5
        # elsewhere is the same data and must not rerun anything.
        url = snakemake.config["data"]["url"]
        archive = Path(snakemake.output.archive)
        md5 = download_cifar(url, snakemake.params.md5, archive, logger)
        write_download_provenance(snakemake.output.provenance, url, archive, md5)
