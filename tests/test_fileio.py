"""Atomic writes: results keep the permissions the umask gives, never mkstemp's 0600."""

import os
import stat

import numpy as np
import pytest
from cifar_compare.fileio import atomic_path, write_json_atomic, write_text_atomic


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request):
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def write_with_numpy(path):
    with atomic_path(path, suffix=".partial.npz") as tmp:
        np.savez(tmp, x=np.arange(3))


def write_by_recreating(path):
    """A writer that replaces the temporary file with one of its own (as some libraries do)."""
    with atomic_path(path) as tmp:
        tmp.unlink()
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, b"x")
        os.close(fd)


def test_every_atomic_writer_respects_the_umask(tmp_path, umask):
    writers = {
        "a.txt": lambda p: write_text_atomic(p, "text"),
        "b.json": lambda p: write_json_atomic(p, {"a": 1}),
        "c.npz": write_with_numpy,
        "d.bin": write_by_recreating,
    }
    for name, write in writers.items():
        path = tmp_path / name
        write(path)
        assert mode(path) == 0o666 & ~umask, (name, oct(mode(path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(writers)


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.txt") as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
