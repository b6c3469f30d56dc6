"""Give each GPU job on one machine a GPU of its own.

Snakemake's `--resources gpu=N` only counts GPUs; it never says which one a job
should use, so every concurrent job would land on GPU 0 (snakemake issue 281).
gpu_slot() claims the first free slot 0..N-1 by holding an flock on that slot's
lock file for the job's lifetime, and sets CUDA_VISIBLE_DEVICES to the slot.
The kernel drops flock locks when their process ends, however it ends, so the
slot of a crashed or killed job is free again at once.

Use it before CUDA is initialised: before tensorflow is imported and before
torch's first CUDA call (torch initialises CUDA lazily, so importing it is fine).
"""

import contextlib
import fcntl
import itertools
import math
import os
import tempfile
import time
from pathlib import Path

from cifar_compare.runtime.environment import nvidia_smi

GPUS_ENV = "CIFAR_COMPARE_GPUS"  # GPUs to share out; default: what nvidia-smi lists
LOCK_DIR_ENV = "CIFAR_COMPARE_GPU_LOCK_DIR"
DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "cifar-compare-gpu-slots"
POLL_SECONDS = 1.0


def detected_gpus():
    """The number of GPUs `nvidia-smi -L` lists; 0 where it is missing or fails."""
    return sum(line.startswith("GPU ") for line in nvidia_smi("-L"))


def gpu_count(environ):
    """GPUs on this machine: CIFAR_COMPARE_GPUS if set, else detected."""
    value = environ.get(GPUS_ENV, "").strip()
    if not value:
        return detected_gpus()
    if not value.isdigit():
        raise ValueError(f"{GPUS_ENV}={value!r}: expected the number of GPUs (0, 1, 2, ...)")
    return int(value)


def _try_lock(path):
    """An open descriptor holding the lock on `path`, or None if another process holds it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o644)
    except OSError as error:
        raise OSError(
            f"cannot open GPU slot lock file {path}: {error.strerror}; "
            f"set {LOCK_DIR_ENV} to a writable directory"
        ) from error
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim_slot(count, directory, timeout=None, on_wait=None):
    """Lock the first free of `count` slots; return (slot, descriptor holding the lock).

    While all are taken (by jobs of another Snakemake run), wait, calling
    `on_wait` once; raise TimeoutError after `timeout` seconds (None: no limit).
    """
    if count < 1:
        raise ValueError(f"cannot claim a GPU slot: {count} GPUs")
    directory = Path(directory)
    with contextlib.suppress(FileExistsError):
        directory.mkdir(parents=True)
        directory.chmod(0o1777)  # slots are per machine: every user's jobs add lock files
    deadline = time.monotonic() + (math.inf if timeout is None else timeout)
    for attempt in itertools.count():
        for slot in range(count):
            fd = _try_lock(directory / f"gpu{slot}.lock")
            if fd is not None:
                return slot, fd
        now = time.monotonic()
        if now >= deadline:
            raise TimeoutError(f"all {count} GPU slots in {directory} stayed taken for {timeout} s")
        if on_wait and attempt == 0:
            on_wait(f"all {count} GPU slots in {directory} are taken; waiting for one")
        time.sleep(min(POLL_SECONDS, deadline - now))


def _not_ours(environ):
    """Why the GPU is someone else's choice here (SLURM's, the user's), or None."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if environ.get("SLURM_JOB_ID"):
        return f"SLURM job {environ['SLURM_JOB_ID']} assigns GPUs: CUDA_VISIBLE_DEVICES={visible}"
    if visible is not None:
        return f"CUDA_VISIBLE_DEVICES={visible} was set before the job; keeping it"
    return None


@contextlib.contextmanager
def gpu_slot(log, environ=os.environ):
    """Run the body with CUDA_VISIBLE_DEVICES set to a GPU no other job here holds.

    Yields the slot, or None where the GPU is not ours to choose: under SLURM,
    when CUDA_VISIBLE_DEVICES is already set, or on a machine without GPUs.
    Every decision, and any error, goes to the job's logger `log`.
    """
    try:
        reason = _not_ours(environ)
        count = 0 if reason else gpu_count(environ)
        if not (reason or count):
            reason = f"no GPUs found (set {GPUS_ENV} where nvidia-smi cannot count them)"
        if not reason:
            directory = Path(environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)
            slot, fd = claim_slot(count, directory, on_wait=lambda m: log.info("gpu slot: %s", m))
    except Exception as error:
        log.error("gpu slot: %s: %s", type(error).__name__, error)
        raise
    if reason:
        log.info("gpu slot: not assigning a GPU: %s", reason)
        yield None
        return
    environ["CUDA_VISIBLE_DEVICES"] = str(slot)
    log.info("gpu slot: slot %d of %d (%s): CUDA_VISIBLE_DEVICES=%d", slot, count, directory, slot)
    try:
        yield slot
    finally:
        environ.pop("CUDA_VISIBLE_DEVICES", None)
        os.close(fd)
