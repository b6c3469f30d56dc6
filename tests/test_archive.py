"""Reading the untrusted CIFAR archive: bounded in-memory reading, numpy-only unpickling, checks."""

import logging
import pickle
import tarfile

import numpy as np
import pytest
from cifar_compare.data import numpy_pickle
from cifar_compare.data.archive import ArchiveError, check_member, parse_batch, read_archive
from cifar_fixtures import CallsOsSystem, write_archive
from prepare_data import prepare


def test_reads_generated_archive(tmp_path):
    write_archive(tmp_path / "a.tar.gz", train_per_class=3, test_per_class=2)
    x_train, y_train, x_test, y_test, names = read_archive(tmp_path / "a.tar.gz")
    assert x_train.shape == (150, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (20, 32, 32, 3)
    assert np.bincount(y_train).tolist() == [15] * 10
    assert names[0] == "airplane" and len(names) == 10


def test_nhwc_layout_matches_official_channel_planes():
    data = np.zeros((1, 3072), dtype=np.uint8)
    data[0, :1024] = 200  # the red plane comes first in the official format
    images, labels = parse_batch(pickle.dumps({b"data": data, b"labels": [3]}, 2))
    assert images[0, :, :, 0].min() == 200 and images[0, :, :, 1:].max() == 0
    assert labels.tolist() == [3]


def test_pixels_keep_their_row_and_column():
    """Each channel plane is 32 rows of 32 pixels, row by row: here red holds the row,
    green the column, blue 7, so a pixel read at (row, column) must be [row, column, 7]."""
    rows, columns = np.divmod(np.arange(1024), 32)
    data = np.concatenate([rows, columns, np.full(1024, 7)]).astype(np.uint8)[None]
    images, _ = parse_batch(pickle.dumps({b"data": data, b"labels": [0]}, 2))
    assert images[0, 0, 1].tolist() == [0, 1, 7] and images[0, 1, 0].tolist() == [1, 0, 7]
    assert images[0, 30, 5].tolist() == [30, 5, 7]


def test_unpickler_refuses_os_system():
    raw = pickle.dumps({b"labels": CallsOsSystem()}, 2)
    with pytest.raises(numpy_pickle.UnsafePickleError, match="refusing to unpickle posix.system"):
        numpy_pickle.load(raw)


# Each way write_archive can spoil an archive, with the message the prepare job gives.
TAMPERED = [
    ("dotdot", "escapes the target folder"),
    ("symlink", "is a link or device"),
    ("os_system", "data_batch_1: refusing to unpickle posix.system"),
    ("extra_class", "labels outside 0..9"),
    ("missing_class", "classes [9] have no examples"),
    ("wrong_shape", "images must be uint8 of shape (N, 3072)"),
]
SPLIT = {
    "validation_fraction": 0.2,
    "split_seed": 0,
    "train_per_class": None,
    "test_per_class": None,
}


@pytest.mark.parametrize("tamper, message", TAMPERED)
def test_prepare_refuses_a_tampered_archive_and_writes_nothing(tmp_path, tamper, message):
    """What the prepare job runs; tests/test_bad_inputs.py runs one such archive through
    Snakemake to show the message reaching the console and no output left."""
    archive = tmp_path / "bad.tar.gz"
    md5 = write_archive(archive, tamper=tamper)
    with pytest.raises(ArchiveError) as refused:
        prepare(archive, tmp_path / "out" / "cifar10.npz", SPLIT, md5, logging.getLogger())
    assert str(refused.value).startswith(f"{archive}") and message in str(refused.value)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.tar.gz"]  # nothing written


@pytest.mark.parametrize(
    "name, kind",
    [("/etc/passwd", tarfile.REGTYPE), ("a/../../x", tarfile.REGTYPE), ("dev", tarfile.CHRTYPE)],
)
def test_check_member(name, kind):
    member = tarfile.TarInfo(name)
    member.type = kind
    with pytest.raises(ArchiveError):
        check_member(member)


@pytest.mark.parametrize(
    "payload, message",
    [
        ({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, "shape"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "refusing dtype .f4."),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "labels"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "outside"),
        ({b"labels": [0]}, "missing key 'data'"),
        ([1, 2], "expected a dict"),
    ],
)
def test_malformed_batches_are_refused(payload, message):
    with pytest.raises(ArchiveError, match=message):
        parse_batch(pickle.dumps(payload, 2), "a.tar.gz", "cifar-10-batches-py/data_batch_1")


def test_truncated_archive_is_refused(tmp_path):
    write_archive(tmp_path / "a.tar.gz")
    raw = (tmp_path / "a.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ArchiveError) as refused:
        read_archive(tmp_path / "cut.tar.gz")
    assert str(refused.value).startswith(
        f"{tmp_path / 'cut.tar.gz'}, cannot read archive (EOFError: Compressed file ended"
    )
