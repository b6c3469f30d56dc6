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


@pytest.fixture
def linked_results(tmp_path, monkeypatch):
    """A working directory whose results/models/m and results/resume/m are symbolic
    links to folders outside it, each holding a file; returns the outside folder."""
    outside, work = tmp_path / "outside", tmp_path / "work"
    for name in ("models", "resume"):
        (outside / name / "seed0").mkdir(parents=True)
        (outside / name / "seed0" / "keep.txt").write_text("not results")
        (work / "results" / name).mkdir(parents=True)
        (work / "results" / name / "m").symlink_to(outside / name)
    monkeypatch.chdir(work)
    return outside


def outside_files(outside):
    return sorted(str(p.relative_to(outside)) for p in outside.rglob("*"))


def test_nothing_is_written_or_deleted_through_a_symlinked_results_folder(linked_results):
    from cifar_compare.fileio import SymlinkedFolder
    from cifar_compare.runtime.interruption import ResumeDir

    before = outside_files(linked_results)
    resume = ResumeDir("results/resume/m/seed0", "fingerprint")
    attempts = [
        lambda: write_text_atomic("results/models/m/seed0/history.csv", "epoch\n"),
        lambda: write_text_atomic("results/models/m/new/history.csv", "epoch\n"),
        resume.clear,
        lambda: resume.epoch_file(1, ".pt"),
        resume.load_record,
    ]
    for attempt in attempts:
        with pytest.raises(SymlinkedFolder) as refused:
            attempt()
        assert "/m is a symbolic link (to " in str(refused.value)
        assert "\n" not in str(refused.value)
    assert outside_files(linked_results) == before


def test_a_linked_results_folder_itself_is_used(tmp_path, monkeypatch):
    """results/ may be a link (to a scratch disk); the folders below it may not."""
    (tmp_path / "scratch").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "results").symlink_to(tmp_path / "scratch")
    monkeypatch.chdir(tmp_path / "work")
    write_text_atomic("results/models/m/seed0/history.csv", "epoch\n")
    assert (tmp_path / "scratch/models/m/seed0/history.csv").read_text() == "epoch\n"
