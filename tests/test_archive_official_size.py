"""An archive with the official sizes: five 10,000-image training batches and a 10,000-image
test batch, as the official cifar-10-python.tar.gz holds. Every other test archive is
smaller, so a bound that refuses a full batch would pass them all.

The pixels are cheap to make and say where each image came from: the red plane holds the
batch number (1-5 for training, 6 for the test batch), the green and blue planes the
image's index in its batch (index % 100 and index // 100). All values stay below 128, so
a Python 3 protocol-2 pickle (which stores bytes as latin-1 text in UTF-8) is as large as
the official one: 30.72 MB of pixels.
"""

import pickle

import numpy as np
import pytest
from cifar_compare.data.archive import read_archive
from cifar_fixtures import CLASSES
from hostile_inputs import BATCH_DIR, meta_pickle, write_tar_gz

PER_BATCH = 10_000


def batch(number):
    """Batch `number` (1-6): image i has label (i + number) % 10."""
    index = np.arange(PER_BATCH)
    data = np.empty((PER_BATCH, 3072), np.uint8)
    data[:, :1024] = number
    data[:, 1024:2048] = (index % 100)[:, None]
    data[:, 2048:] = (index // 100)[:, None]
    labels = ((index + number) % 10).tolist()
    return pickle.dumps({b"data": data, b"labels": labels, b"batch_label": b"x"}, 2)


def members():
    """The members one at a time, so only one batch pickle is in memory at once."""
    yield f"{BATCH_DIR}/batches.meta", meta_pickle(num_cases_per_batch=PER_BATCH)
    for number, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"], 1):
        yield f"{BATCH_DIR}/{name}", batch(number)


@pytest.fixture(scope="module")
def official_size(tmp_path_factory):
    archive = tmp_path_factory.mktemp("official") / "cifar-10-python.tar.gz"
    write_tar_gz(archive, members())
    return read_archive(archive)


def test_an_archive_of_official_size_is_read_whole(official_size):
    x_train, y_train, x_test, y_test, names = official_size
    assert x_train.shape == (50_000, 32, 32, 3) and x_train.dtype == np.uint8
    assert x_test.shape == (10_000, 32, 32, 3) and y_test.shape == (10_000,)
    assert names == CLASSES
    # each batch's labels cycle through the ten classes: 1,000 per class per batch
    assert np.bincount(y_train).tolist() == [5_000] * 10
    assert np.bincount(y_test).tolist() == [1_000] * 10


@pytest.mark.parametrize(
    ("position", "batch_number", "index"),
    [(0, 1, 0), (9_999, 1, 9_999), (10_000, 2, 0), (25_000, 3, 5_000), (49_999, 5, 9_999)],
)
def test_training_images_are_the_batches_in_order(official_size, position, batch_number, index):
    x_train, y_train = official_size[:2]
    image = x_train[position]
    assert (image[..., 0] == batch_number).all()  # the red plane: the batch number
    assert (image[..., 1] == index % 100).all() and (image[..., 2] == index // 100).all()
    assert y_train[position] == (index + batch_number) % 10


def test_test_images_are_the_test_batch(official_size):
    x_test, y_test = official_size[2:4]
    assert (x_test[..., 0] == 6).all()
    assert x_test[1_234, 0, 0].tolist() == [6, 34, 12] and y_test[1_234] == (1_234 + 6) % 10
