"""Give each GPU job on one machine a GPU of its own.

Snakemake's `--resources gpu=N` only counts GPUs; it never says which one a job
should use, so every concurrent job would land on GPU 0 (snakemake issue 281).
gpu_slot() claims the first free slot 0..N-1 by holding an flock on that slot's
lock file for the job's lifetime, and sets CUDA_VISIBLE_DEVICES to the slot.
The kernel drops flock locks when their process ends, however it ends, so the
slot of a crashed or killed job is free again at once.

The lock folder may sit in a shared /tmp, so nothing in it is trusted: the folder
must be the user's or root's and, where others may write to it, sticky (as /tmp
is); a slot file is opened without following a link or blocking on a FIFO and must
be a regular file; a slot that stays taken is waited for only so long.

Use it before CUDA is initialised: before tensorflow is imported and before
torch's first CUDA call (torch initialises CUDA lazily, so importing it is fine).
"""

import contextlib
import fcntl
import itertools
import os
import pwd
import stat
import tempfile
import time
from pathlib import Path

from cifar_compare.runtime.environment import nvidia_smi

GPUS_ENV = "CIFAR_COMPARE_GPUS"  # GPUs to share out; default: what nvidia-smi lists
LOCK_DIR_ENV = "CIFAR_COMPARE_GPU_LOCK_DIR"
WAIT_ENV = "CIFAR_COMPARE_GPU_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 3600
POLL_SECONDS = 1.0
# O_NOFOLLOW: a planted link is not followed (nor its target created); O_NONBLOCK:
# opening a planted FIFO returns at once instead of waiting for a writer.
SLOT_OPEN_FLAGS = os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class GpuSlotError(RuntimeError):
    pass


def default_lock_dir():
    """A folder of the user's own in the temporary folder (shared /tmp: see the docstring)."""
    return Path(tempfile.gettempdir()) / f"cifar-compare-gpu-slots-{os.geteuid()}"


def detected_gpus():
    """The number of GPUs `nvidia-smi -L` lists; 0 where it is missing or fails."""
    return sum(line.startswith("GPU ") for line in nvidia_smi("-L"))


def _whole_number(environ, name, meaning):
    value = environ[name].strip()
    if not value.isdigit():
        raise ValueError(f"{name}={value!r}: expected {meaning} (0, 1, 2, ...)")
    return int(value)


def gpu_count(environ):
    """GPUs on this machine: CIFAR_COMPARE_GPUS if set, else detected."""
    if not environ.get(GPUS_ENV, "").strip():
        return detected_gpus()
    return _whole_number(environ, GPUS_ENV, "the number of GPUs")


def wait_seconds(environ):
    """How long a job waits for a free slot: CIFAR_COMPARE_GPU_WAIT_SECONDS, else an hour."""
    if not environ.get(WAIT_ENV, "").strip():
        return DEFAULT_WAIT_SECONDS
    return _whole_number(environ, WAIT_ENV, "seconds to wait for a GPU slot")


def user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _refuse_folder(directory, info):
    """Why the lock folder cannot be trusted, or None."""
    if not stat.S_ISDIR(info.st_mode):
        return "it is not a folder (a link or a file)"
    if info.st_uid not in (os.geteuid(), 0):
        return f"it belongs to {user_name(info.st_uid)}, not to you or root"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        return f"others may replace its files (mode {stat.filemode(info.st_mode)}, not sticky)"
    return None


def open_lock_folder(directory):
    """A descriptor of the lock folder, created for the user alone if missing, once it
    is checked; GpuSlotError naming the folder where it cannot be trusted."""
    directory = Path(directory)
    with contextlib.suppress(FileExistsError):
        directory.mkdir(mode=0o700, parents=True)
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    reason = _refuse_folder(directory, os.fstat(fd))
    if reason:
        os.close(fd)
        raise GpuSlotError(
            f"GPU slot folder {directory}: {reason}; set {LOCK_DIR_ENV} to a folder of your own"
        )
    return fd


def _try_lock(folder_fd, name, directory):
    """An open descriptor holding the lock on slot file `name`, or None if another
    process holds it; GpuSlotError where the file is a link, a FIFO or anything but a file."""
    path = directory / name
    try:
        fd = os.open(name, SLOT_OPEN_FLAGS, 0o644, dir_fd=folder_fd)
    except OSError as error:
        kind = "a symbolic link" if os.path.islink(path) else error.strerror
        raise GpuSlotError(
            f"cannot open GPU slot file {path}: {kind}; remove it, or set {LOCK_DIR_ENV} "
            "to a folder of your own"
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise GpuSlotError(
            f"GPU slot file {path} is not a regular file ({stat.filemode(mode)}); remove it, "
            f"or set {LOCK_DIR_ENV} to a folder of your own"
        )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lock_holders(path):
    """Who holds flocks on `path`, as 'pid N (user)' from /proc/locks; 'unknown' without it."""
    info = os.stat(path)
    device = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return "unknown"
    # "1: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF"; "->" marks a waiter
    locks = [[f for f in line.split() if f != "->"] for line in lines]
    pids = [f[4] for f in locks if len(f) > 5 and f[1] == "FLOCK" and f[5] == device]
    return ", ".join(f"pid {pid} ({_process_owner(pid)})" for pid in pids) or "unknown"


def _process_owner(pid):
    try:
        return user_name(os.stat(f"/proc/{pid}").st_uid)
    except OSError:
        return "ended"


def _claim_free(count, folder_fd, directory):
    for slot in range(count):
        fd = _try_lock(folder_fd, f"gpu{slot}.lock", directory)
        if fd is not None:
            return slot, fd
    return None


def _stayed_taken(count, directory, timeout):
    holders = "; ".join(
        f"gpu{slot}.lock held by {lock_holders(directory / f'gpu{slot}.lock')}"
        for slot in range(count)
    )
    return TimeoutError(
        f"all {count} GPU slots in {directory} stayed taken for {timeout} s ({holders}); "
        f"raise {WAIT_ENV} to wait longer"
    )


def claim_slot(count, directory, timeout=DEFAULT_WAIT_SECONDS, on_wait=None):
    """Lock the first free of `count` slots; return (slot, descriptor holding the lock).

    While all are taken (by jobs of another Snakemake run), wait, calling
    `on_wait` once; raise TimeoutError naming the holders after `timeout` seconds.
    """
    if count < 1:
        raise ValueError(f"cannot claim a GPU slot: {count} GPUs")
    directory = Path(directory)
    folder_fd = open_lock_folder(directory)
    deadline = time.monotonic() + timeout
    try:
        for attempt in itertools.count():
            claimed = _claim_free(count, folder_fd, directory)
            if claimed:
                return claimed
            now = time.monotonic()
            if now >= deadline:
                raise _stayed_taken(count, directory, timeout)
            if on_wait and attempt == 0:
                on_wait(f"all {count} GPU slots in {directory} are taken; waiting for one")
            time.sleep(min(POLL_SECONDS, deadline - now))
    finally:
        os.close(folder_fd)


def _not_ours(environ):
    """Why the GPU is someone else's choice here (SLURM's, the user's), or None."""
    visible = environ.get("CUDA_VISIBLE_DEVICES")
    if environ.get("SLURM_JOB_ID"):
        return f"SLURM job {environ['SLURM_JOB_ID']} assigns GPUs: CUDA_VISIBLE_DEVICES={visible}"
    if visible is not None:
        return f"CUDA_VISIBLE_DEVICES={visible} was set before the job; keeping it"
    return None


def _claim_for_job(count, environ, log):
    directory = Path(environ.get(LOCK_DIR_ENV) or default_lock_dir())
    timeout = wait_seconds(environ)
    slot, fd = claim_slot(count, directory, timeout, lambda m: log.info("gpu slot: %s", m))
    return slot, fd, directory


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
            slot, fd, directory = _claim_for_job(count, environ, log)
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
