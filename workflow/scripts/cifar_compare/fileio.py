"""Atomic file writing, hashing and small JSON helpers.

Every result is first written next to its destination and then renamed into
place, so an interrupted job never leaves a file that looks finished.
"""

import contextlib
import glob
import hashlib
import json
import os
import tempfile
from pathlib import Path

CHUNK_BYTES = 1 << 20


@contextlib.contextmanager
def atomic_path(destination, suffix=".partial"):
    """Yield a temporary path beside `destination`; rename it there on success.

    `suffix` ends the temporary name, for writers that insist on an extension.
    mkstemp creates the file with mode 0600; before the rename it gets the mode a
    plain open() would have given it (0666 less the umask), so colleagues on a
    shared file system can read the results. The file is fsynced before the rename
    and its folder after it, so once this returns the file survives a hard kill or
    a crash of the machine (a job's log may announce it).
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=suffix, dir=destination.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        umask = os.umask(0o022)  # reading the umask means setting it: set it straight back
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        fsync(tmp)
        os.replace(tmp, destination)
        fsync(destination.parent)
    finally:
        tmp.unlink(missing_ok=True)


def fsync(path):
    """Flush a file's (or a folder's entries') data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_partials(destination):
    """Delete temporaries that a killed writer of `destination` left beside it."""
    destination = Path(destination)
    if destination.parent.is_dir():
        for stale in destination.parent.glob(f".{glob.escape(destination.name)}.*.partial"):
            stale.unlink(missing_ok=True)


def write_text_atomic(destination, text):
    with atomic_path(destination) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(destination, obj):
    write_text_atomic(destination, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def file_digest(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()
