"""Send a script's progress and errors to its Snakemake log file.

Snakemake deletes a job's log before each attempt, so a retry would lose the lines of the
attempt before it (its `stopped by SIGTERM`, its traceback). A hidden copy beside the log,
`.<log name>.attempts`, gets every line too and outlives that deletion: each attempt's log
starts with the earlier attempts' lines, then an `--- attempt N` header. The copy is removed
when the job's script succeeds, so it holds the attempts since the job last succeeded.
"""

import contextlib
import datetime
import logging
from pathlib import Path

from cifar_compare.fileio import refuse_symlinked_folder

FORMAT = "%(asctime)s %(levelname)s %(message)s"
HEADER = "--- attempt {number}, started {time}: the lines above are from earlier attempts ---\n"


class AttemptsCopy(logging.FileHandler):
    """The hidden copy of a job's log, which Snakemake does not delete."""


def attempts_path(log_path):
    log_path = Path(log_path)
    return log_path.with_name(f".{log_path.name}.attempts")


def _earlier_attempts(log_path):
    """The earlier attempts' lines, ending with the header of this one ("" at the first)."""
    copy = attempts_path(log_path)
    earlier = copy.read_text() if copy.is_file() else ""
    if not earlier:
        return ""
    number = earlier.count(HEADER.split("{")[0]) + 2
    time = datetime.datetime.now().isoformat(sep=" ", timespec="seconds")
    header = HEADER.format(number=number, time=time)
    with open(copy, "a") as copy_file:
        copy_file.write(header)
    return earlier + header


def open_log(path):
    refuse_symlinked_folder(Path(path).parent)
    Path(path).write_text(_earlier_attempts(path))
    logging.basicConfig(
        handlers=[logging.FileHandler(path), AttemptsCopy(attempts_path(path))],
        level=logging.INFO,
        format=FORMAT,
        force=True,
    )
    # Python warnings (Keras', TensorFlow's, PyTorch's) go to the job log, not the console.
    logging.captureWarnings(True)
    return logging.getLogger("cifar_compare")


@contextlib.contextmanager
def errors_logged(logger):
    """Write any exception's traceback to the log before Snakemake sees it; on success,
    drop the log's copy of this job's attempts, so its next run starts a fresh log."""
    try:
        yield
    except Exception:
        logger.exception("failed")
        raise
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, AttemptsCopy)]:
        root.removeHandler(handler)
        handler.close()
        Path(handler.baseFilename).unlink(missing_ok=True)
