"""Send a script's progress and errors to its Snakemake log file."""

import contextlib
import logging
import sys


def open_log(path):
    logging.basicConfig(
        filename=path,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        force=True,
    )
    # Python warnings (Keras', TensorFlow's, PyTorch's) go to the job log, not the console.
    logging.captureWarnings(True)
    return logging.getLogger("cifar_compare")


@contextlib.contextmanager
def exit_on_interrupt(logger):
    """Turn a training run stopped by a signal into exit code 128 + signal number."""
    from cifar_compare.runtime.interruption import Interrupted

    try:
        yield
    except Interrupted as stopped:
        logger.warning("%s", stopped)
        sys.exit(stopped.exit_code)


@contextlib.contextmanager
def errors_logged(logger):
    """Write any exception's traceback to the log before Snakemake sees it."""
    try:
        yield
    except Exception:
        logger.exception("failed")
        raise
