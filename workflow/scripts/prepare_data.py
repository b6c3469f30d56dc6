"""Turn the CIFAR-10 archive into the framework-neutral prepared file."""

import tempfile

import numpy as np
from cifar_compare.cifar_archive import NUM_CLASSES, extract_archive, read_batches
from cifar_compare.dataset import make_splits, save_prepared
from cifar_compare.logs import errors_logged, open_log


def prepare(archive, destination, settings, log):
    with tempfile.TemporaryDirectory(prefix="cifar-extract-") as workdir:
        batch_dir = extract_archive(archive, workdir)
        x_train, y_train, x_test, y_test, class_names = read_batches(batch_dir)
    log.info("read %d training and %d test images", len(y_train), len(y_test))
    splits = make_splits(x_train, y_train, x_test, y_test, settings, NUM_CLASSES)
    for name, split in splits.items():
        counts = np.bincount(split.labels, minlength=NUM_CLASSES).tolist()
        log.info("%s: %d images, per class %s", name, len(split), counts)
    save_prepared(destination, splits, class_names)


if __name__ == "__main__":
    logger = open_log(snakemake.log[0])
    with errors_logged(logger):
        prepare(snakemake.input.archive, snakemake.output.prepared, snakemake.params.split, logger)
