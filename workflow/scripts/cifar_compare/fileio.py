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

from cifar_compare.messages import clip

CHUNK_BYTES = 1 << 20
RESULTS = "results"  # the working directory's results folder (itself may be a link)


class SymlinkedFolder(OSError):
    """A folder below results/ is a symbolic link: writing or deleting there would act
    on whatever it points to, outside the results."""


def symlinked_folder(path):
    """The first folder on the way from results/ to `path` (`path` included) that is a
    symbolic link, or None; paths outside the working directory's results/ are not
    results and are not checked. Lexical: no link is followed to decide."""
    results = Path(os.path.abspath(RESULTS))
    try:
        below = Path(os.path.abspath(path)).relative_to(results)
    except ValueError:
        return None
    folder = results
    for part in below.parts:
        folder = folder / part
        if folder.is_symlink():
            return folder
    return None


def refuse_symlinked_folder(path):
    """Raise SymlinkedFolder, naming the link, if `symlinked_folder(path)` finds one."""
    if (link := symlinked_folder(path)) is not None:
        _refuse_link(link)


def refuse_symlinked_folders_below(root=RESULTS):
    """Raise SymlinkedFolder for the first folder below `root` that is a symbolic link
    (os.walk lists links to folders with the folders and does not enter them)."""
    for folder, subfolders, _ in os.walk(root):
        for name in subfolders:
            if os.path.islink(os.path.join(folder, name)):
                _refuse_link(Path(folder, name))


def _refuse_link(link):
    raise SymlinkedFolder(
        f"{clip(link, 200)} is a symbolic link (to {clip(os.readlink(link), 120)}): "
        "refusing to write or delete through it; replace it with a real folder"
    )


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
    refuse_symlinked_folder(destination.parent)
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
    refuse_symlinked_folder(destination.parent)
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
