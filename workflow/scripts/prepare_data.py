"""Turn the CIFAR-10 archive into the framework-neutral prepared file."""

import numpy as np
from cifar_compare.data.archive import NUM_CLASSES, ArchiveError, read_archive
from cifar_compare.data.dataset import make_splits, save_prepared
from cifar_compare.data.download import verify_file
from cifar_compare.messages import clip, one_line
from cifar_compare.runtime.logs import errors_logged, open_log


def prepare(archive, destination, settings, md5, log):
    """Check the archive against data.md5 again, read it in memory, split and save it."""
    verify_file(archive, "md5", md5, "data.md5")
    x_train, y_train, x_test, y_test, class_names = read_archive(archive)
    log.info("read %d training and %d test images", len(y_train), len(y_test))
    try:
        splits = make_splits(x_train, y_train, x_test, y_test, settings, NUM_CLASSES)
    except ValueError as error:  # a class missing, or a subset or split the data cannot give
        raise ArchiveError(one_line(f"{clip(archive, 120)}: {error}")) from None
    for name, split in splits.items():
        counts = np.bincount(split.labels, minlength=NUM_CLASSES).tolist()
        log.info("%s: %d images, per class %s", name, len(split), counts)
    save_prepared(destination, splits, class_names, archive_md5=md5)


if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        prepare(
            snakemake.input.archive,
            snakemake.output.prepared,
            snakemake.params.split,
            snakemake.params.md5,
            logger,
        )
